"""How a tuner runs training code as a trial: the protocol between ember.tune and ember.train.

A tuner runs each trial in an actor and, before calling the trainable there, installs a
``TrialSession`` with ``set_trial_session``. Then, in that process:

- a function trainable's ``ember.train.report`` / ``get_checkpoint`` / ``get_context``
  go to the trial (``report`` -> ``session.report``);
- a ``TorchTrainer`` is run with ``trainer.run_trial(config)``: the trial's ``config``
  overrides the trainer's (``config["train_loop_config"]`` is merged into
  ``train_loop_config``, ``config["scaling_config"]`` may override the workers), the
  tuner counts ``trainer.trial_bundles(config)`` against its resources before starting
  the trial, so trials x workers never wait on each other's CPUs; the workers take
  bundles ``first_bundle..`` of ``session.placement_group`` when the tuner reserved one,
  else the trainer reserves its own group after splitting its datasets (whose tasks need
  free CPUs first); training resumes from ``session.checkpoint``, and rank 0's reports are
  forwarded to ``session.report`` as they are committed (once every rank made them).

The tuner keeps a trial's checkpoints with the same code as a training run:
``persist_checkpoint`` copies a reported checkpoint into the trial's folder (durable on
return) and ``CheckpointKeeper`` applies ``CheckpointConfig`` to the persisted ones.

Nothing here imports ember.tune: tune depends on train, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._checkpoint import Checkpoint, resolve
from ._config import CheckpointConfig
from ._per_thread import PerThread
from ._storage import CheckpointManager, RunStorage, next_free_index

__all__ = ["CheckpointKeeper", "TrialSession", "current_trial_session", "persist_checkpoint",
           "set_trial_session"]


@dataclass
class TrialSession:
    """What a tuner tells the training code running in one of its trials."""

    trial_id: str
    trial_name: str
    trial_dir: str
    experiment_name: str
    report: Callable[[dict[str, Any], Checkpoint | None], None]
    """Record one result (and persist its checkpoint) for the trial; durable on return."""
    checkpoint: Checkpoint | None = None
    """The checkpoint to resume from (restored or exploited trials), else None."""
    placement_group: Any = None
    """The trial's reserved placement group, when it reserved bundles for workers."""
    first_bundle: int = 1
    """Index of the first bundle a TorchTrainer's workers may take."""


_current: PerThread[TrialSession] = PerThread()


def set_trial_session(session: TrialSession | None) -> None:
    """Install (or, with None, clear) the trial the calling thread runs (several trials
    may share a process on a cluster, each in its own thread)."""
    _current.set(session)


def current_trial_session() -> TrialSession | None:
    return _current.get()


def persist_checkpoint(checkpoint: Checkpoint, directory: str) -> Checkpoint:
    """``checkpoint`` copied into ``directory/checkpoint_NNNNNN`` (the next free number);
    one already inside ``directory`` (a TorchTrainer's rank 0 wrote it) is kept as is."""
    filesystem, path = resolve(directory)
    inside = checkpoint.path.startswith(path.rstrip("/") + "/")
    if inside and type(checkpoint.filesystem) is type(filesystem):
        return checkpoint
    storage = RunStorage(filesystem, path)
    filesystem.create_dir(path, recursive=True)
    return storage.persist(checkpoint, next_free_index(storage))


class CheckpointKeeper:
    """The persisted checkpoints of one trial, pruned as ``config`` says."""

    def __init__(self, config: CheckpointConfig, directory: str):
        filesystem, path = resolve(directory)
        self._manager = CheckpointManager(config, RunStorage(filesystem, path))

    def register(self, checkpoint: Checkpoint, metrics: dict[str, Any]) -> None:
        index = int(checkpoint.path.rstrip("/").rsplit("_", 1)[-1])
        self._manager.register(checkpoint, metrics, index)

    @property
    def latest(self) -> Checkpoint | None:
        return self._manager.latest

    def best_checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        return self._manager.best_checkpoints()
