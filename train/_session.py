"""What the training loop sees from inside a worker: its rank, its data shards, the
checkpoint to resume from, and ``report``.

One ``WorkerSession`` is installed per worker process for the duration of a run. Rank 0
persists reported checkpoints into storage itself (so ``report`` returns only once the
checkpoint is durable) and queues its reports for the driver, which collects them with
``TrainWorker.next_reports``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ._checkpoint import Checkpoint
from ._per_thread import PerThread
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
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    experiment_name: str = ""
    trial_name: str | None = None
    trial_id: str | None = None
    trial_dir: str | None = None
    use_gpu: bool = False

    def get_world_rank(self) -> int:
        return self.world_rank

    def get_world_size(self) -> int:
        return self.world_size

    def get_local_rank(self) -> int:
        return self.local_rank

    def get_local_world_size(self) -> int:
        return self.local_world_size

    def get_node_rank(self) -> int:
        return self.node_rank

    def get_experiment_name(self) -> str:
        return self.experiment_name

    def get_trial_name(self) -> str | None:
        return self.trial_name

    def get_trial_id(self) -> str | None:
        return self.trial_id

    def get_trial_dir(self) -> str | None:
        """The trial's own folder when running under tune (the working directory is not
        changed), else None."""
        return self.trial_dir


@dataclass
class Report:
    metrics: dict[str, Any]
    checkpoint: Checkpoint | None
    checkpoint_index: int | None


@dataclass
class WorkerSession:
    context: TrainContext
    storage: RunStorage
    checkpoint: Checkpoint | None
    shards: dict[str, Any]
    next_checkpoint_index: int
    reports: list[Report] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    finished: bool = False

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None) -> None:
        if self.context.world_rank != 0:
            return
        persisted, index = None, None
        if checkpoint is not None:
            index = self.next_checkpoint_index
            persisted = self.storage.persist(checkpoint, index)
            self.next_checkpoint_index += 1
            self.checkpoint = persisted
        with self.changed:
            self.reports.append(Report(dict(metrics), persisted, index))
            self.changed.notify_all()

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

    Rank 0's metrics are kept; rank 0's checkpoint is copied into the run's storage and is
    durable when this returns. Under tune, a function trainable reports to its trial.
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
    """The calling worker's ranks (or the trial's context in a tune function trainable)."""
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
    ``resume_from_checkpoint`` (or the trial's), else None."""
    session = current()
    if session is not None:
        return session.checkpoint
    trial = current_trial_session()
    return trial.checkpoint if trial is not None else None


def get_dataset_shard(name: str = "train") -> Any:
    """This worker's share of ``TorchTrainer(datasets={name: ds})``: a DataIterator with
    ``iter_batches`` / ``iter_torch_batches``, re-iterable once per epoch."""
    session = current()
    if session is None:
        raise RuntimeError("ember.train.get_dataset_shard() is called from a training loop "
                           "run by TorchTrainer.fit(); there is none in this process")
    if name not in session.shards:
        raise KeyError(f"get_dataset_shard({name!r}): no such dataset; the trainer was given "
                       f"datasets={sorted(session.shards)}")
    return session.shards[name]
