"""What ``fit()`` gives back: the last metrics, the checkpoints, and the failure if any."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._checkpoint import Checkpoint


class TrainingFailedError(RuntimeError):
    """Training failed on a worker more times than ``FailureConfig.max_failures`` allows.

    ``rank`` is the worker that failed first, ``checkpoint_path`` the latest persisted
    checkpoint (None if there was none); the message holds the worker's traceback and the
    original exception is the ``__cause__``.
    """

    def __init__(self, message: str, rank: int | None = None,
                 checkpoint_path: str | None = None):
        super().__init__(message)
        self.rank = rank
        self.checkpoint_path = checkpoint_path

    def __reduce__(self) -> Any:
        return (type(self), (self.args[0], self.rank, self.checkpoint_path))


@dataclass
class Result:
    """The outcome of a run (or of one tune trial).

    ``metrics`` is rank 0's last report, ``metrics_dataframe`` has one row per report,
    ``checkpoint`` is the latest persisted checkpoint, ``best_checkpoints`` the kept ones
    best first as (checkpoint, metrics), ``path`` the run's folder in storage and
    ``error`` the exception that ended the run (when ``fit(raise_on_failure=False)``).
    """

    metrics: dict[str, Any] | None
    checkpoint: Checkpoint | None
    path: str
    error: BaseException | None = None
    metrics_history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = field(default_factory=list,
                                                                      repr=False)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics_dataframe(self) -> Any:
        """A pandas DataFrame, one row per report (None when nothing was reported)."""
        import pandas as pd

        if not self.metrics_history:
            return None
        return pd.DataFrame(self.metrics_history)
