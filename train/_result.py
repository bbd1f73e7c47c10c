"""What ``fit()`` gives back: the last metrics, the checkpoints, and the failure if any."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import ember

from ._checkpoint import Checkpoint

_TRAIN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FRAME = '  File "'


class TrainingFailedError(RuntimeError):
    """Training failed on a worker more times than ``FailureConfig.max_failures`` allows.

    ``rank`` is the worker that failed first, ``checkpoint_path`` the latest persisted
    checkpoint (None if there was none); the message names the rank and its pid and holds
    its traceback (the user's frames), and the original exception is the ``__cause__``
    (without a traceback of its own, so an uncaught error shows the traceback once).
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
    """Rank 0's last reported metrics (None when nothing was reported)."""
    checkpoint: Checkpoint | None
    """The latest persisted checkpoint, None if there is none."""
    path: str
    """The run's folder in storage (``storage_path/name``)."""
    error: BaseException | None = None
    """The exception that ended the run (a ``TrainingFailedError``), else None."""
    metrics_history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Rank 0's metrics of every committed report, in order."""
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = field(default_factory=list,
                                                                      repr=False)
    """The kept checkpoints as (checkpoint, its report's metrics), best first (see
    ``CheckpointConfig``)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The ``train_loop_config`` the loop was given (a tune trial's merged in)."""

    @property
    def metrics_dataframe(self) -> Any:
        """A pandas DataFrame, one row per report (None when nothing was reported)."""
        import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs not installed

        if not self.metrics_history:
            return None
        return pd.DataFrame(self.metrics_history)


def rank_error_text(error: BaseException) -> str:
    """The traceback of the user's code for a rank's ``error``, ending with its type and
    message: the engine's text already lacks core's frames, train's are cut here."""
    if not isinstance(error, ember.TaskError):
        return f"{type(error).__name__}: {error}"
    return _without_train_frames(error.traceback_text)


def _without_train_frames(text: str) -> str:
    """``text`` (``traceback.format_list`` frames) without the frames in train's files
    (``TrainWorker.run`` calling the loop); as it was when nothing else is left."""
    kept: list[str] = []
    skipping = False
    frames = 0
    for line in text.splitlines(keepends=True):
        if line.startswith(_FRAME):
            filename = line[len(_FRAME):].split('"', 1)[0]
            skipping = os.path.abspath(filename).startswith(_TRAIN_DIR)
            frames += not skipping
        elif not (skipping and line.startswith("    ")):  # a frame's source and carets
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept) if frames else text
