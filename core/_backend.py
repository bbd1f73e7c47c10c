"""The one interface every engine implements: the embedded node, a worker's view of
it, local mode, and (later) Dask. The public API in ``_api`` only talks to this.
"""

from __future__ import annotations

import abc
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import concurrent.futures

    from ._object_ref import ObjectRef
    from ._options import TaskOptions
    from ._remote_function import RemoteFunction


class Backend(Protocol):
    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]: ...
    def put(self, value: Any) -> ObjectRef: ...
    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]: ...
    def wait(self, refs: list[ObjectRef], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef], list[ObjectRef]]: ...
    def cancel(self, ref: ObjectRef, force: bool) -> None: ...
    def as_concurrent_future(self, ref: ObjectRef) -> concurrent.futures.Future: ...
    def cluster_resources(self) -> dict[str, float]: ...
    def available_resources(self) -> dict[str, float]: ...
    def timeline_events(self) -> list[dict[str, Any]]: ...
    def kv_put(self, key: str, value: bytes | None) -> None: ...
    def kv_get(self, key: str) -> bytes | None: ...
    def add_local_ref(self, object_id: int, counted: bool) -> None: ...
    def remove_local_ref(self, object_id: int) -> None: ...
    def note_pickled(self, object_id: Any) -> None: ...
    def is_alive(self) -> bool: ...
    def shutdown(self) -> None: ...


class LocalRefCounts(abc.ABC):
    """Counts this process's ObjectRefs per id; reports the first and the last one.

    ``counted`` refs (made by this process's own submit/put) were already counted by
    the owner when created, so their first appearance is not reported.
    """

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        # Reentrant: ObjectRef.__del__ may run inside garbage collection triggered while
        # this thread holds the lock.
        self._counts_lock = threading.RLock()

    def add_local_ref(self, object_id: int, counted: bool) -> None:
        with self._counts_lock:
            previous = self._counts.get(object_id, 0)
            self._counts[object_id] = previous + 1
        if previous == 0 and not counted:
            self._first_local_ref(object_id)

    def remove_local_ref(self, object_id: int) -> None:
        with self._counts_lock:
            remaining = self._counts.get(object_id, 0) - 1
            if remaining > 0:
                self._counts[object_id] = remaining
                return
            self._counts.pop(object_id, None)
        if remaining == 0:
            self._last_local_ref(object_id)

    def note_pickled(self, object_id: Any) -> None:
        """A ref to ``object_id`` is being pickled into a message; a backend whose
        receivers attach asynchronously keeps the object alive meanwhile."""

    @abc.abstractmethod
    def _first_local_ref(self, object_id: int) -> None:
        """This process now holds ``object_id``: tell the owner."""

    @abc.abstractmethod
    def _last_local_ref(self, object_id: int) -> None:
        """This process dropped its last ref to ``object_id``: tell the owner."""

