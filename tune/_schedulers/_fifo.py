"""``FIFOScheduler``: run trials in the order they come, never stop one early."""

from __future__ import annotations

from ._base import TrialScheduler


class FIFOScheduler(TrialScheduler):
    """The default scheduler: every trial runs until it ends or a stopper stops it.

    Example::

        Tuner(train_fn, tune_config=TuneConfig(scheduler=FIFOScheduler()))
    """

    def __init__(self) -> None:
        super().__init__()

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."
