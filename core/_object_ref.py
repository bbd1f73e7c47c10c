"""``ObjectRef``: a handle to an immutable object in the store.

Each process counts its live ObjectRefs per object id; the first and last one in a
process tell the owner, so an object is freed when no process, object or task holds it.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _context
from ._serialization import note_contained_ref

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import Generator

    from ._backend import Backend

T = TypeVar("T")


class ObjectRef(Generic[T]):
    """A reference to a task's result or a ``put`` value; pass it around, ``get`` or ``await`` it.

    Example::

        ref = ember.put([1, 2, 3])
        assert ember.get(ref) == [1, 2, 3]
    """

    __slots__ = ("__weakref__", "_id", "_runtime")
    _id: int
    _runtime: Backend | None

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError(
            "ObjectRef has no public constructor: refs come from f.remote(...) and "
            "ember.put(value)")

    @classmethod
    def _make(cls, object_id: int, runtime: Backend | None, *, counted: bool = False) -> ObjectRef[Any]:
        ref = object.__new__(cls)
        ref._id = object_id
        ref._runtime = runtime
        if runtime is not None:
            runtime.add_local_ref(object_id, counted)
        return ref

    def __del__(self) -> None:
        runtime = getattr(self, "_runtime", None)  # unset if the constructor refused
        if runtime is not None:
            try:
                runtime.remove_local_ref(self._id)
            except Exception:  # noqa: BLE001,S110 - interpreter shutdown: nothing left to free
                pass

    def __reduce__(self) -> tuple[Any, ...]:
        note_contained_ref(self._id)
        runtime = self._runtime
        if runtime is not None:
            runtime.note_pickled(self._id)
        return (_rebuild_ref, (self._id,))

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio

        return asyncio.wrap_future(self._checked_runtime().as_concurrent_future(self)).__await__()

    def future(self) -> concurrent.futures.Future[T]:
        """A ``concurrent.futures.Future`` completed with the value (or error), as
        ``ray.ObjectRef.future()``; ``await ref`` works too."""
        return self._checked_runtime().as_concurrent_future(self)

    def hex(self) -> str:
        """The object's id as a string, as ``ray.ObjectRef.hex()``: 16 hex digits (the
        Dask key on the Dask backend); equal refs give equal strings."""
        object_id = self._id
        return object_id if isinstance(object_id, str) else f"{object_id:016x}"

    def __repr__(self) -> str:
        return f"ObjectRef({self.hex()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __bool__(self) -> bool:
        return True

    def _checked_runtime(self) -> Backend:
        runtime = self._runtime
        if runtime is None or not runtime.is_alive():
            raise _context.stale_ref_error(self)
        return runtime


def _rebuild_ref(object_id: int) -> ObjectRef[Any]:
    return ObjectRef._make(object_id, _context.current_or_none())


_EMBER_LOOPS: weakref.WeakSet[Any] = weakref.WeakSet()


def forbid_blocking_in(loop: Any) -> None:
    """Mark an event loop that Ember runs (an async actor's): a blocking ``get`` there
    would stall every other call of that actor, or deadlock on one of them."""
    _EMBER_LOOPS.add(loop)


def _awaitable_error_hint(what: str = "ember.get()") -> None:
    """Raise if called from an event loop Ember runs, where blocking would stall it.

    Anyone else's loop may block: a notebook kernel runs one in the main thread of the
    driver, and the engine answers from its own threads (Ray allows this too)."""
    asyncio = sys.modules.get("asyncio")  # never imported: no loop can be running
    if asyncio is None:
        return
    loop = asyncio.events._get_running_loop()
    if loop is None or loop not in _EMBER_LOOPS:
        return
    raise RuntimeError(
        f"{what} was called inside an async actor method, where it would block the "
        "actor's event loop and every other call waiting on it; use `await ref` (or "
        "`await asyncio.gather(*refs)`) instead")


def id_text(identifier: int | str) -> str:
    """An id as shown: hex for the embedded engine's ints, as is for Dask's keys."""
    return f"{identifier:x}" if isinstance(identifier, int) else str(identifier)
