"""``TorchTrainer``: run a training loop on N worker processes joined by torch.distributed.

    fit()
      └─ attempt: WorkerGroup.start (placement group, actors, process group)
           ├─ every rank: run(loop, config, shard, checkpoint)       (actor thread 1)
           └─ driver: collect every rank's reports as they come     (actor threads 2-3)
                     once all ranks made report n: commit its checkpoint, keep rank 0's
                     metrics, print the table, forward to a tune trial, release the ranks
         a rank that raises or dies -> tear the group down -> restart from the latest
         checkpoint while FailureConfig.max_failures allows, else TrainingFailedError
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import ember

from . import _torch_setup
from ._checkpoint import Checkpoint, resolve
from ._config import RunConfig, ScalingConfig
from ._progress import ProgressTable
from ._report_barrier import Report, ReportBarrier
from ._result import Result, TrainingFailedError, rank_error_text
from ._session import TrainContext
from ._storage import CheckpointManager, RunStorage, next_free_index
from ._worker_group import WorkerGroup
from .trial import TrialSession, current_trial_session

_POLL_S = 1.0
_DRAIN_S = 2.0
_WAIT_NOTICE_S = 60.0


class _WorkerFailed(Exception):
    """Rank ``rank`` (None: a worker while the group was starting) failed with ``error``;
    ``pid`` is its process, once the group knows it."""

    def __init__(self, rank: int | None, error: BaseException):
        super().__init__(rank, error)
        self.rank = rank
        self.error = error
        self.pid: int | None = None


class TorchTrainer:
    """Data-parallel PyTorch training on ``scaling_config.num_workers`` processes.

    Example::

        def loop(config):
            model = ember.train.prepare_model(Net())
            for epoch in range(config["epochs"]):
                ...
                ember.train.report({"epoch": epoch, "loss": loss})

        result = TorchTrainer(loop, train_loop_config={"epochs": 5},
                              scaling_config=ScalingConfig(num_workers=2)).fit()

    Each worker's environment is torchrun's (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT), with the default process group already initialised (gloo, or nccl
    with ``use_gpu``). A TorchTrainer is also a tune trainable (see ember.train.trial).

    Args:
        train_loop_per_worker: the loop every worker runs, ``loop(config)`` or
            ``loop()`` (a function with a positional parameter is given the config).
            It reports with ``ember.train.report``; its exception fails the run.
        train_loop_config: the dict passed to the loop. Default None: ``{}``.
        scaling_config: how many workers and their resources. Default None:
            ``ScalingConfig()`` (one CPU worker).
        run_config: where results go, which checkpoints to keep, how many failures to
            survive. Default None: ``RunConfig()``.
        datasets: a dict of name -> ``ember.data.Dataset``; each is split equally
            between the workers when ``fit`` starts (``get_dataset_shard(name)``).
            Default None: none.
        resume_from_checkpoint: a ``Checkpoint`` the loop starts from
            (``get_checkpoint()`` returns it until a newer one is reported). Default
            None.

    Raises:
        TypeError: an argument of the wrong type (e.g. ``train_loop_config`` not a
            dict, or a dataset that is not an ember Dataset).
    """

    def __init__(self, train_loop_per_worker: Callable[..., Any], *,
                 train_loop_config: dict[str, Any] | None = None,
                 scaling_config: ScalingConfig | None = None,
                 run_config: RunConfig | None = None,
                 datasets: dict[str, Any] | None = None,
                 resume_from_checkpoint: Checkpoint | None = None):
        if not callable(train_loop_per_worker):
            raise TypeError("TorchTrainer(train_loop_per_worker=...) must be a function taking "
                            f"no argument or a config dict, got {train_loop_per_worker!r}")
        if train_loop_config is not None and not isinstance(train_loop_config, dict):
            raise TypeError("TorchTrainer(train_loop_config=...) must be a dict, got "
                            f"{type(train_loop_config).__name__}")
        _check_type("scaling_config", scaling_config, ScalingConfig)
        _check_type("run_config", run_config, RunConfig)
        _check_type("resume_from_checkpoint", resume_from_checkpoint, Checkpoint)
        if datasets is not None:
            if not isinstance(datasets, dict):
                raise TypeError("TorchTrainer(datasets=...) must be a dict of name -> "
                                f"ember.data.Dataset, got {type(datasets).__name__}")
            for name, dataset in datasets.items():
                if not hasattr(dataset, "streaming_split"):
                    raise TypeError(f"TorchTrainer(datasets={{{name!r}: ...}}) must be an "
                                    f"ember.data.Dataset, got {type(dataset).__name__}")
        self.train_loop_per_worker = train_loop_per_worker
        self.train_loop_config = dict(train_loop_config or {})
        self.scaling_config = scaling_config or ScalingConfig()
        self.run_config = run_config or RunConfig()
        self.datasets = dict(datasets or {})
        self.resume_from_checkpoint = resume_from_checkpoint

    # -- running on its own -------------------------------------------------------------------
    def fit(self, raise_on_failure: bool = True) -> Result:
        """Train to the end; a failure beyond ``max_failures`` raises TrainingFailedError
        (or, with ``raise_on_failure=False``, is returned in ``Result.error``).

        Args:
            raise_on_failure: True (the default) raises the failure; False returns it
                in the Result.

        Returns:
            The ``Result``: last metrics, checkpoints, the run's folder.

        Raises:
            TrainingFailedError: the run failed more than
                ``FailureConfig.max_failures`` times (with ``raise_on_failure``).
        """
        name = self.run_config.name or time.strftime("TorchTrainer_%Y-%m-%d_%H-%M-%S")
        storage = RunStorage.open(self.run_config.resolved_storage_path(), name)
        result = _Run(self, self.scaling_config, storage, None, self.train_loop_config).execute()
        if result.error is not None and raise_on_failure:
            raise result.error
        return result

    # -- running as a tune trial (the protocol in ember.train.trial) ----------------------------
    def trial_bundles(self, config: dict[str, Any] | None = None) -> list[dict[str, float]]:
        """The bundles a trial with ``config`` must reserve for this trainer's workers.

        Called by a tuner, not by users (see ``ember.train.trial``).

        Args:
            config: the trial's config; its ``"scaling_config"`` (a ScalingConfig, or a
                dict of its fields) overrides the trainer's. Default None: ``{}``.

        Returns:
            One resource dict per worker.
        """
        scaling = self._scaling_for(config or {})
        return [scaling.worker_resources()] * scaling.num_workers

    def _scaling_for(self, config: dict[str, Any]) -> ScalingConfig:
        """The trial's ``config["scaling_config"]`` (a ScalingConfig, or a dict of its
        fields overriding the trainer's), else the trainer's own."""
        override = config.get("scaling_config")
        if override is None:
            return self.scaling_config
        if isinstance(override, ScalingConfig):
            return override
        if isinstance(override, dict):
            return dataclasses.replace(self.scaling_config, **override)
        raise TypeError("param_space['scaling_config'] must be a ScalingConfig or a dict of "
                        f"its fields, got {override!r}")

    def run_trial(self, config: dict[str, Any]) -> Result:
        """Train inside the current tune trial with the trial's ``config`` applied; rank 0's
        reports go to the trial. Raises what the trial's ``report`` raises (to stop it).

        Called by a tuner, not by users (see ``ember.train.trial``).

        Args:
            config: the trial's config: ``"scaling_config"`` overrides the workers,
                ``"train_loop_config"`` and every other key are merged into
                ``train_loop_config``.

        Returns:
            The trial's ``Result``.

        Raises:
            RuntimeError: not called inside a tune trial.
            TrainingFailedError: the run failed beyond ``max_failures``.
        """
        trial = current_trial_session()
        if trial is None:
            raise RuntimeError("TorchTrainer.run_trial() runs inside a tune trial; call fit()")
        config = dict(config)
        scaling = self._scaling_for(config)
        config.pop("scaling_config", None)
        loop_config = {**self.train_loop_config, **config.pop("train_loop_config", {}), **config}
        storage = RunStorage(*resolve(trial.trial_dir))
        result = _Run(self, scaling, storage, trial, loop_config).execute()
        if result.error is not None:
            raise result.error
        return result


class _Run:
    """One ``fit()``: attempts until the loop finishes or failures run out (``scaling``
    is the trainer's own, or a tune trial's)."""

    def __init__(self, trainer: TorchTrainer, scaling: ScalingConfig, storage: RunStorage,
                 trial: TrialSession | None, loop_config: dict[str, Any]):
        self.trainer = trainer
        self.scaling = scaling
        self.storage = storage
        self.trial = trial
        self.loop_config = loop_config
        self.manager = CheckpointManager(trainer.run_config.checkpoint_config, storage)
        self.history: list[dict[str, Any]] = []
        self.progress = ProgressTable(enabled=trial is None and trainer.run_config.verbose > 0)
        self.resume = trainer.resume_from_checkpoint or (trial.checkpoint if trial else None)

    def execute(self) -> Result:
        max_failures = self.trainer.run_config.failure_config.max_failures
        shards = self._split_datasets()
        failures, error = 0, None
        while True:
            try:
                self._attempt(shards)
                break
            except _WorkerFailed as failure:
                failures += 1
                latest = self.manager.latest or self.resume
                if max_failures != -1 and failures > max_failures:
                    error = _failed(failure, latest, failures)
                    break
                print(f"ember.train: {_who(failure)} failed ({type(failure.error).__name__}); "
                      f"restarting from {latest.path if latest else 'the start'} "
                      f"(failure {failures} of {'unlimited' if max_failures == -1 else max_failures})",
                      file=sys.stderr)
        return Result(
            metrics=self.history[-1] if self.history else None,
            checkpoint=self.manager.latest,
            path=self.storage.run_path, error=error, metrics_history=self.history,
            best_checkpoints=self.manager.best_checkpoints(), config=self.loop_config)

    def _split_datasets(self) -> list[dict[str, Any]]:
        count = self.scaling.num_workers
        shards: list[dict[str, Any]] = [{} for _ in range(count)]
        for name, dataset in self.trainer.datasets.items():
            for rank, iterator in enumerate(dataset.streaming_split(count, equal=True)):
                shards[rank][name] = iterator
        return shards

    def _attempt(self, shards: list[dict[str, Any]]) -> None:
        scaling = self.scaling
        try:
            group = WorkerGroup.start(scaling, self.trial)
        except (ember.ActorDiedError, ember.WorkerCrashedError) as error:
            raise _WorkerFailed(None, error) from error  # a crash like any other: retried
        reason = "the run ended"
        try:
            checkpoint = self.manager.latest or self.resume
            first_index = max(self.manager.next_index, next_free_index(self.storage))
            runs = []
            for rank, (worker, rdv) in enumerate(zip(group.workers, group.rendezvous)):
                context = TrainContext(
                    world_rank=rank, world_size=rdv.world_size, local_rank=rdv.local_rank,
                    local_world_size=rdv.local_world_size, node_rank=rdv.node_rank,
                    experiment_name=os.path.basename(self.storage.run_path),
                    trial_name=self.trial.trial_name if self.trial else None,
                    trial_id=self.trial.trial_id if self.trial else None,
                    trial_dir=self.trial.trial_dir if self.trial else None,
                    use_gpu=scaling.use_gpu)
                runs.append(worker.run.remote(
                    self.trainer.train_loop_per_worker, self.loop_config, context, self.storage,
                    checkpoint, shards[rank], first_index))
            self._collect(group.workers, runs)
        except _WorkerFailed as failure:
            if failure.rank is not None:
                failure.pid = group.pids[failure.rank]
            reason = f"{_who(failure)} failed: {type(failure.error).__name__}"
            raise
        except BaseException as error:
            reason = f"the driver stopped: {type(error).__name__}"
            raise
        finally:
            group.shutdown(reason)

    def _collect(self, workers: list[Any], runs: list[Any]) -> None:
        """Commit each report once every rank has made it, until every rank's loop has
        returned; raise _WorkerFailed for the first rank that raised, died, or left the
        others waiting in a report it will never make (see ``_report_barrier``)."""
        barrier = ReportBarrier(len(workers))
        running = {ref: rank for rank, ref in enumerate(runs)}
        polls = {worker.next_reports.remote(_POLL_S): rank for rank, worker in enumerate(workers)}
        returned: set[int] = set()
        drained: set[int] = set()
        noticed = 0.0
        while not barrier.done():
            ready, _ = ember.wait([*polls, *running], num_returns=1, timeout=_POLL_S)
            now = time.monotonic()
            for ref in ready:
                if ref in running:
                    rank = running.pop(ref)
                    try:
                        ember.get(ref)
                    except Exception as error:
                        raise _WorkerFailed(rank, error) from error
                    returned.add(rank)
                elif ref in polls:
                    rank = polls.pop(ref)
                    try:
                        reports, finished = ember.get(ref)
                    except Exception as error:  # the rank died: its run ref says how
                        run = runs[rank]
                        raise _WorkerFailed(rank, _run_error(run) or error) from error
                    barrier.arrive(rank, reports, now)
                    if finished:
                        drained.add(rank)
                    else:
                        polls[workers[rank].next_reports.remote(_POLL_S)] = rank
            for rank in returned & drained - barrier.finished:
                barrier.finish(rank)
            committed = barrier.ready(now)
            for report in committed:
                self._on_report(report)
            if committed:
                for worker in workers:
                    worker.release.remote(barrier.committed, self.manager.latest)
            unmatched = barrier.unmatched()
            if unmatched is not None:
                rank = min(barrier.finished)
                raise _WorkerFailed(rank, RuntimeError(unmatched))
            noticed = self._check_late(barrier, now, noticed)

    def _check_late(self, barrier: ReportBarrier, now: float, noticed: float) -> float:
        """Say (every _WAIT_NOTICE_S) which ranks a report waits for, as Ray does; give up
        after the collective timeout (EMBER_TRAIN_TIMEOUT_S) with the same words."""
        late = barrier.late(now)
        if late is None or late.waited_s < _WAIT_NOTICE_S:
            return 0.0
        if late.waited_s > _torch_setup.DEFAULT_TIMEOUT_S:
            raise _WorkerFailed(late.missing[0], TimeoutError(
                f"{late.describe()}; gave up after EMBER_TRAIN_TIMEOUT_S="
                f"{_torch_setup.DEFAULT_TIMEOUT_S:g} s"))
        if now - noticed >= _WAIT_NOTICE_S:
            print(f"ember.train: {late.describe()}", file=sys.stderr)
            return now
        return noticed

    def _on_report(self, report: Report) -> None:
        checkpoint = None
        if report.checkpoint_index is not None:
            checkpoint = self.storage.commit(report.checkpoint_index)
            self.manager.register(checkpoint, report.metrics, report.checkpoint_index)
        self.history.append(report.metrics)
        self.progress.row(report.metrics)
        if self.trial is not None:
            self.trial.report(report.metrics, checkpoint)


def _who(failure: _WorkerFailed) -> str:
    if failure.rank is None:
        return "a worker (starting)"
    return f"rank {failure.rank}" + (f" (pid {failure.pid})" if failure.pid else "")


def _run_error(ref: Any) -> BaseException | None:
    try:
        ember.get(ref, timeout=_DRAIN_S)
    except Exception as error:  # noqa: BLE001 - the rank's error, whatever its type, is the answer
        return error
    return None


def _failed(failure: _WorkerFailed, latest: Checkpoint | None, failures: int) -> TrainingFailedError:
    """The error ``fit()`` raises. Its message holds the rank's traceback (the user's
    frames); its cause is the rank's original exception, which carries none, so Python's
    report of an uncaught error shows that traceback once."""
    where = latest.path if latest is not None else None
    message = (f"Training failed after {failures} attempt(s); latest checkpoint: "
               f"{where or 'none'}.\n{_who(failure)} failed:\n{rank_error_text(failure.error)}")
    error = TrainingFailedError(message.rstrip(), failure.rank, where)
    if isinstance(failure.error, ember.TaskError):
        error.__cause__ = failure.error.cause  # None when its class did not unpickle here
    else:  # the engine's own (a rank died, timed out): its frames here explain nothing
        cause = failure.error.with_traceback(None)
        cause.__suppress_context__ = True
        error.__cause__ = cause
    return error


def _check_type(name: str, value: Any, expected: type) -> None:
    if value is not None and not isinstance(value, expected):
        raise TypeError(f"TorchTrainer({name}=...) must be a {expected.__name__}, got "
                        f"{type(value).__name__}")
