"""A value installed by one thread for the code it runs, such as a worker's session.

On the Dask backend several actors can share one worker process, each calling from its
own thread, so a process-wide global would let one run's session leak into another's.
A thread sees the value it installed; a thread the user started (which installed
nothing) sees the process's only value, when there is exactly one.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: dict[int, T] = {}

    def set(self, value: T | None) -> None:
        with self._lock:
            if value is None:
                self._by_thread.pop(threading.get_ident(), None)
            else:
                self._by_thread[threading.get_ident()] = value

    def get(self) -> T | None:
        with self._lock:
            mine = self._by_thread.get(threading.get_ident())
            if mine is not None:
                return mine
            values = list(self._by_thread.values())
        return values[0] if len(values) == 1 else None
