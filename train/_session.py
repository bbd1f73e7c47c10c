"""What the training loop sees from inside a worker: its rank, its data shards, the
checkpoint to resume from, and ``report``.

One ``WorkerSession`` is installed per worker process for the duration of a run.
``report`` is a collective (``_report_barrier``): every rank queues its reports for the
driver, which collects them with ``TrainWorker.next_reports``; rank 0 first stages its
checkpoint in storage; a report returns on a rank once every rank has made it and the
driver has committed it (renamed the checkpoint into place, kept rank 0's metrics).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ._checkpoint import Checkpoint
from ._per_thread import PerThread
from ._report_barrier import Report
from ._storage import RunStorage
from .trial import current_trial_session


@dataclass(frozen=True)
class TrainContext:
    """The calling worker's place in the run.

    Example::

        ctx = ember.train.get_context()
        if ctx.get_world_rank() == 0:
            print("world size", ctx.get_world_size())
    """

    world_rank: int = 0
    """This worker's rank among all workers, 0 .. world_size - 1."""
    world_size: int = 1
    """How many workers the run has."""
    local_rank: int = 0
    """This worker's rank among the run's workers on its node."""
    local_world_size: int = 1
    """How many of the run's workers are on this node."""
    node_rank: int = 0
    """The index of this worker's node among the run's nodes."""
    experiment_name: str = ""
    """The run's name (its folder's name in storage; under tune, the experiment's)."""
    trial_name: str | None = None
    """Under tune, the trial's name, else None."""
    trial_id: str | None = None
    """Under tune, the trial's id, else None."""
    trial_dir: str | None = None
    """Under tune, the trial's folder, else None."""
    use_gpu: bool = False
    """Whether the run's workers train on GPUs (``ScalingConfig.use_gpu``)."""

    def get_world_rank(self) -> int:
        """This worker's rank among all workers, 0 .. world_size - 1 (torch's RANK)."""
        return self.world_rank

    def get_world_size(self) -> int:
        """How many workers the run has (torch's WORLD_SIZE)."""
        return self.world_size

    def get_local_rank(self) -> int:
        """This worker's rank among the run's workers on its node (LOCAL_RANK)."""
        return self.local_rank

    def get_local_world_size(self) -> int:
        """How many of the run's workers are on this worker's node."""
        return self.local_world_size

    def get_node_rank(self) -> int:
        """The index of this worker's node among the run's nodes (NODE_RANK)."""
        return self.node_rank

    def get_experiment_name(self) -> str:
        """The run's name: its folder's name in storage (under tune, the experiment's)."""
        return self.experiment_name

    def get_trial_name(self) -> str | None:
        """The tune trial's name, or None outside tune."""
        return self.trial_name

    def get_trial_id(self) -> str | None:
        """The tune trial's id, or None outside tune."""
        return self.trial_id

    def get_trial_dir(self) -> str | None:
        """The trial's own folder when running under tune (the working directory is not
        changed), else None."""
        return self.trial_dir


class RunStopped(BaseException):
    """Raised in a rank's ``report`` when the driver tears the group down (another rank
    failed, the trial was stopped): the report was not committed and the loop must end.
    A BaseException, so a loop's ``except Exception`` cannot keep a torn-down rank going."""


@dataclass
class WorkerSession:
    """One rank's side of the collective ``report`` (see ``_report_barrier``)."""

    context: TrainContext
    storage: RunStorage
    checkpoint: Checkpoint | None
    shards: dict[str, Any]
    next_checkpoint_index: int
    reports: list[Report] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    finished: bool = False
    made: int = 0
    """Reports this rank has made."""
    released: int = 0
    """Reports every rank has made and the driver committed."""
    stopped: str | None = None
    """Why the group was torn down, once it was."""

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None) -> None:
        """Stage rank 0's checkpoint, queue the report for the driver and wait until every
        rank has made it and the driver committed it (the checkpoint is then durable)."""
        self._raise_if_stopped()
        index = None
        if checkpoint is not None and self.context.world_rank == 0:
            index = self.next_checkpoint_index
            self.storage.stage(checkpoint, index)
            self.next_checkpoint_index += 1
        kept = dict(metrics) if self.context.world_rank == 0 else {}
        with self.changed:
            self.made += 1
            number = self.made
            self.reports.append(Report(kept, index))
            self.changed.notify_all()
            while self.released < number and self.stopped is None:
                self.changed.wait()
        self._raise_if_stopped()

    def release(self, count: int, latest: Checkpoint | None) -> None:
        """The driver committed reports up to ``count``; ``latest`` is the newest checkpoint."""
        with self.changed:
            self.released = max(self.released, count)
            if latest is not None:
                self.checkpoint = latest
            self.changed.notify_all()

    def stop(self, reason: str) -> None:
        with self.changed:
            self.stopped = reason
            self.changed.notify_all()

    def _raise_if_stopped(self) -> None:
        if self.stopped is not None:
            raise RunStopped(f"ember.train.report() on rank {self.context.world_rank}: the "
                             f"run's workers were torn down ({self.stopped}); this report was "
                             "not committed")

    def take_reports(self, timeout: float) -> tuple[list[Report], bool]:
        """Reports queued since the last call (waiting up to ``timeout`` s for one), and
        whether the loop has finished."""
        with self.changed:
            if not self.reports and not self.finished:
                self.changed.wait(timeout)
            taken, self.reports = self.reports, []
            return taken, self.finished

    def finish(self) -> None:
        with self.changed:
            self.finished = True
            self.changed.notify_all()


_sessions: PerThread[WorkerSession] = PerThread()


def install(session: WorkerSession | None) -> None:
    """Set (or with None, clear) the session of the calling thread's run."""
    _sessions.set(session)


def current() -> WorkerSession | None:
    return _sessions.get()


def _check_metrics(metrics: Any) -> dict[str, Any]:
    if not isinstance(metrics, dict) or not all(isinstance(k, str) for k in metrics):
        raise TypeError("report(metrics=...) takes a dict of metric name -> value, e.g. "
                        f"{{'loss': 0.1}}, got {type(metrics).__name__}: {metrics!r:.80}")
    return metrics


def report(metrics: dict[str, Any], *, checkpoint: Checkpoint | None = None) -> None:
    """Report this step's metrics (and optionally a checkpoint) from every worker.

    A collective, as in Ray: every rank must call it the same number of times, and it
    returns on no rank until all ranks have called it. Rank 0's metrics are kept; rank 0's
    checkpoint is copied into the run's storage and is durable when this returns. If a
    rank dies, the others stop at their next report (the run restarts from the last
    checkpoint every rank reached). Under tune, a function trainable reports to its trial.

    Example::

        with tempfile.TemporaryDirectory() as d:
            torch.save(model.state_dict(), os.path.join(d, "model.pt"))
            ember.train.report({"loss": loss}, checkpoint=Checkpoint.from_directory(d))

    Args:
        metrics: a dict of metric name (str) -> value; rank 0's become
            ``Result.metrics`` and a row of ``Result.metrics_history``; the other
            ranks' are dropped.
        checkpoint: a ``Checkpoint`` to persist with this report; only rank 0's is
            kept (the other ranks' are ignored; Ray's per-rank checkpoint files are
            not merged). It is copied, so its folder may be deleted on return. Default
            None: no checkpoint.

    Raises:
        TypeError: ``metrics`` is not a dict with str keys, or ``checkpoint`` is not a
            Checkpoint.
        RuntimeError: called outside a training loop or tune trial.
    """
    _check_metrics(metrics)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TypeError("report(checkpoint=...) takes a Checkpoint, e.g. "
                        f"Checkpoint.from_directory(folder), got {checkpoint!r:.80}")
    session = current()
    if session is not None:
        session.report(metrics, checkpoint)
        return
    trial = current_trial_session()
    if trial is not None:
        trial.report(dict(metrics), checkpoint)
        return
    raise RuntimeError("ember.train.report() is called from a training loop run by "
                       "TorchTrainer.fit() (or a tune trial); there is none in this process")


def get_context() -> TrainContext:
    """The calling worker's ranks (or the trial's context in a tune function trainable).

    Returns:
        A ``TrainContext`` (in a tune function trainable: rank 0 of 1 with the trial's
        names).

    Raises:
        RuntimeError: called outside a training loop or tune trial.
    """
    session = current()
    if session is not None:
        return session.context
    trial = current_trial_session()
    if trial is not None:
        return TrainContext(experiment_name=trial.experiment_name, trial_name=trial.trial_name,
                            trial_id=trial.trial_id, trial_dir=trial.trial_dir)
    raise RuntimeError("ember.train.get_context() is called from a training loop run by "
                       "TorchTrainer.fit() (or a tune trial); there is none in this process")


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from: the latest reported one after a restart, else
    ``resume_from_checkpoint`` (or the trial's), else None.

    Returns:
        A ``Checkpoint`` or None (also None outside a training loop or trial).
    """
    session = current()
    if session is not None:
        return session.checkpoint
    trial = current_trial_session()
    return trial.checkpoint if trial is not None else None


def get_dataset_shard(name: str = "train") -> Any:
    """This worker's share of ``TorchTrainer(datasets={name: ds})``: a DataIterator with
    ``iter_batches`` / ``iter_torch_batches``, re-iterable once per epoch.

    Each dataset is split with ``streaming_split(num_workers, equal=True)`` when
    ``fit`` starts: every rank gets exactly the same number of rows (up to
    ``num_workers - 1`` rows are dropped), so collectives stay in step.

    Args:
        name: the key the dataset was given under in ``datasets`` (default
            ``"train"``).

    Returns:
        A DataIterator (``iter_batches``, ``iter_torch_batches``, ``iter_rows``).

    Raises:
        KeyError: no dataset of that name (the message lists them).
        RuntimeError: called outside a training loop run by ``TorchTrainer.fit``.
    """
    session = current()
    if session is None:
        raise RuntimeError("ember.train.get_dataset_shard() is called from a training loop "
                           "run by TorchTrainer.fit(); there is none in this process")
    if name not in session.shards:
        raise KeyError(f"get_dataset_shard({name!r}): no such dataset; the trainer was given "
                       f"datasets={sorted(session.shards)}")
    return session.shards[name]
