"""How a tuner runs training code as a trial: the protocol between ember.tune and ember.train.

A tuner runs each trial in an actor and, before calling the trainable there, installs a
``TrialSession`` with ``set_trial_session``. Then, in that process:

- a function trainable's ``ember.train.report`` / ``get_checkpoint`` / ``get_context``
  go to the trial (``report`` -> ``session.report``);
- a ``TorchTrainer`` is run with ``trainer.run_trial(config)``: the trial's ``config``
  overrides the trainer's (``config["train_loop_config"]`` is merged into
  ``train_loop_config``), the workers take bundles ``first_bundle..`` of the trial's
  ``placement_group`` (reserve ``trainer.trial_bundles()``, so trials x workers never
  wait on each other's CPUs), training resumes from ``session.checkpoint``, and rank 0's
  reports are forwarded to ``session.report`` as they arrive.

Nothing here imports ember.tune: tune depends on train, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._checkpoint import Checkpoint

__all__ = ["TrialSession", "current_trial_session", "set_trial_session"]


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


_current: TrialSession | None = None


def set_trial_session(session: TrialSession | None) -> None:
    """Install (or, with None, clear) the trial this process is running."""
    global _current
    _current = session


def current_trial_session() -> TrialSession | None:
    return _current
