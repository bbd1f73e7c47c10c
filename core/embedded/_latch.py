"""A one-shot wake-up for a thread waiting on objects (see Node.get)."""

from __future__ import annotations

import _thread
from typing import Any


class Latch:
    """Wakes a waiting thread once ``count`` objects are ready.

    Counted down under the node lock; the wake-up itself runs after the lock is
    released (``after_lock``), so the woken thread does not immediately block on it.
    """

    __slots__ = ("_after_lock", "_gate", "remaining")

    def __init__(self, count: int, after_lock: list[Any]):
        self.remaining = count
        self._gate = _thread.allocate_lock()  # cheaper than threading.Event
        self._gate.acquire()
        self._after_lock = after_lock

    def count_down(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self._after_lock.append(self._gate.release)

    def wait(self, timeout: float | None) -> bool:
        return self._gate.acquire(timeout=-1 if timeout is None else timeout)
