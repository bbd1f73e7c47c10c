"""``Trial``: one configuration being evaluated, as the tuner, searchers and schedulers
see it. The tuner owns the status transitions; schedulers read trials, and PBT may set
``config`` and ``restore_from`` on a trial it pauses (exploit/explore)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ember.train import Checkpoint

PENDING = "PENDING"
RUNNING = "RUNNING"
PAUSED = "PAUSED"
TERMINATED = "TERMINATED"
ERROR = "ERROR"


@dataclass(eq=False)
class Trial:
    trial_id: str
    config: dict[str, Any]
    status: str = PENDING
    last_result: dict[str, Any] = field(default_factory=dict)
    """The latest reported metrics (with ``training_iteration`` etc. filled in)."""
    results: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    """The latest persisted checkpoint."""
    restore_from: Checkpoint | None = None
    """Set by a scheduler (PBT's exploit): the next run of this trial starts from it."""
    error: str | None = None
    """The failure's traceback text when status is ERROR."""
    num_failures: int = 0
    trial_dir: str = ""

    @property
    def name(self) -> str:
        """The trial's folder name (``objective_00001``), as progress and errors show it."""
        return os.path.basename(self.trial_dir) or self.trial_id

    @property
    def is_finished(self) -> bool:
        return self.status in (TERMINATED, ERROR)

    def __repr__(self) -> str:
        return f"Trial({self.trial_id}, {self.status})"


def flat_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as one level, keys joined with "/" (``{"a": {"b": 1}}`` -> ``a/b``)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flat_config(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
