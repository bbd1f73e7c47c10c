"""The one interface every engine implements: the embedded node, a worker's view of
it, local mode, and (later) Dask. The public API in ``_api`` only talks to this.
"""

from __future__ import annotations

import abc
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import Sequence

    from ._actor import ActorClass, ActorHandle
    from ._generator import ObjectRefGenerator
    from ._object_ref import ObjectRef
    from ._options import ActorOptions, TaskOptions
    from ._placement_group import PlacementGroup
    from ._remote_function import RemoteFunction


class Backend(Protocol):
    def submit(self, function: RemoteFunction[Any, Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], options: TaskOptions,
               ) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        """The task's refs; for ``num_returns="streaming"``, its ObjectRefGenerator."""
        ...
    def put(self, value: Any) -> ObjectRef[Any]: ...
    def get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]: ...
    def wait(self, refs: list[ObjectRef[Any]], num_returns: int, timeout: float | None,
             ) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]: ...
    def cancel(self, ref: ObjectRef[Any], force: bool) -> None: ...
    def as_concurrent_future(self, ref: ObjectRef[Any]) -> concurrent.futures.Future[Any]: ...
    def create_actor(self, actor_class: ActorClass[Any], args: tuple[Any, ...],
                     kwargs: dict[str, Any], options: ActorOptions) -> ActorHandle[Any]: ...
    def call_actor(self, handle: ActorHandle[Any], method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], num_returns: int | str,
                   ) -> Sequence[ObjectRef[Any]] | ObjectRefGenerator:
        """The call's refs; for ``num_returns="streaming"``, its ObjectRefGenerator."""
        ...
    def kill_actor(self, handle: ActorHandle[Any], no_restart: bool) -> None: ...
    def get_actor(self, name: str, namespace: str | None) -> ActorHandle[Any]: ...
    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> PlacementGroup: ...
    def remove_placement_group(self, group: PlacementGroup) -> None: ...
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

