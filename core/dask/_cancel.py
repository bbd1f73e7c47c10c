"""``ember.cancel`` of a task on a Dask worker: interrupt it if it runs, never start it.

    driver: cancel(key) ──> client.cancel + client.run(interrupt, key) on every worker
    worker: interrupt(key) ──> remember key; KeyboardInterrupt into the thread running
            key's user code, if any
    worker: run_task ──> a remembered key never starts; user code runs inside
            ``interruptible(key)``

Dask cannot stop a running task, and it may start one after the driver asked the
scheduler what runs where (the graph and that question travel apart), so every worker
is told. The exception is raised into a thread only while it is inside the user's code
(registered and unregistered under one lock), never into Dask's own code around it,
where a KeyboardInterrupt would take the worker down.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import threading
from collections.abc import Iterator
from typing import Any

_KEPT = 10_000
_lock = threading.Lock()
_cancelled: collections.OrderedDict[str, None] = collections.OrderedDict()
"""Keys cancelled on this worker, newest last (bounded)."""
_running: dict[int, str] = {}
"""Thread id -> the key whose user code it runs now."""


def interrupt(key: str, dask_worker: Any = None) -> None:
    """Runs on a worker (``client.run``): cancel ``key`` here, once."""
    with _lock:
        if key in _cancelled:
            return  # told already: a second exception could land in the first's handler
        _cancelled[key] = None
        while len(_cancelled) > _KEPT:
            _cancelled.popitem(last=False)
        for thread_id, running in _running.items():
            if running == key:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread_id), ctypes.py_object(KeyboardInterrupt))


def current_key() -> str | None:
    """The Dask key this thread runs, or None outside a Dask task."""
    from distributed import get_worker

    try:
        key = get_worker().get_current_task()
    except ValueError:
        return None
    return None if key is None else str(key)


@contextlib.contextmanager
def interruptible(key: str | None) -> Iterator[None]:
    """Around a task's user code; raises KeyboardInterrupt at once if ``key`` was
    cancelled before it started."""
    if key is None:
        yield
        return
    thread_id = threading.get_ident()
    with _lock:
        if key in _cancelled:
            raise KeyboardInterrupt
        _running[thread_id] = key
    try:
        yield
    finally:
        with _lock:
            _running.pop(thread_id, None)
