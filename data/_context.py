"""``DataContext``: the knobs of dataset execution, one current instance per process."""

from __future__ import annotations

import dataclasses
import sys
import threading
from dataclasses import dataclass
from typing import ClassVar


def _interactive() -> bool:
    """A person is watching: a terminal, or a notebook kernel (with widgets to draw in)."""
    if sys.stderr is not None and sys.stderr.isatty():
        return True
    if "ipykernel" not in sys.modules:
        return False
    try:
        import ipywidgets  # noqa: F401  tqdm.auto draws notebook bars with it
    except ImportError:
        return False
    return True


@dataclass
class DataContext:
    """Execution settings read when a dataset runs.

    Example::

        ctx = ember.data.DataContext.get_current()
        ctx.max_blocks_in_flight = 4

    There is one per process: a change in the driver applies to the datasets it runs
    (and, for ``target_block_rows``, to the sources created after it), not to other
    processes (e.g. the coordinator actor of ``streaming_split``).

    Raises:
        ValueError: ``target_block_rows`` or ``max_blocks_in_flight`` is not a
            positive int.
    """

    target_block_rows: int = 1_000_000
    """Rows per block that sources aim for: few, large blocks keep per-block costs low."""
    max_blocks_in_flight: int = 4
    """Blocks being computed or waiting for the consumer at once: the memory bound of a
    streaming execution (back-pressure stops submitting beyond it)."""
    enable_progress_bars: bool = dataclasses.field(default_factory=lambda: _interactive())
    """Show a progress bar per execution (default: when stderr is a terminal, or in a
    notebook with ipywidgets, where the bars are widgets)."""

    _current: ClassVar[DataContext | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __post_init__(self) -> None:
        for name in ("target_block_rows", "max_blocks_in_flight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DataContext.{name} must be a positive int, got {value!r}")

    @classmethod
    def get_current(cls) -> DataContext:
        """This process's context (created with the defaults on first use); change its
        fields to change how datasets run."""
        with cls._lock:
            if cls._current is None:
                cls._current = DataContext()
            return cls._current
