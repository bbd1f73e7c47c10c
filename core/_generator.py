"""``ObjectRefGenerator``: the ObjectRefs of a streaming task's items, as they are made.

It is backend-neutral: each backend hands items to it through ``stream_next`` /
``stream_release`` (the embedded engine's side is ``embedded/_streams``).
"""

from __future__ import annotations

from typing import Any

from ._object_ref import ObjectRef, id_text


class ObjectRefGenerator:
    """Iterates the ObjectRefs of a ``num_returns="streaming"`` task's items, in order.

    Example::

        @ember.remote(num_returns="streaming")
        def count(n):
            for i in range(n):
                yield i

        assert [ember.get(ref) for ref in count.remote(3)] == [0, 1, 2]
    """

    _task_id: Any
    _end_ref: ObjectRef[Any]
    _runtime: Any
    _index: int

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("an ObjectRefGenerator comes from a num_returns='streaming' call")

    @classmethod
    def _make(cls, task_id: int | str, end_ref: ObjectRef[Any], runtime: Any) -> ObjectRefGenerator:
        generator = object.__new__(cls)
        generator._task_id = task_id
        generator._end_ref = end_ref
        generator._runtime = runtime
        generator._index = 0
        return generator

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef[Any]:
        ref: ObjectRef[Any] = self._runtime.stream_next(self._task_id, self._index, None)
        self._index += 1
        return ref

    def next_ready(self, timeout: float | None) -> ObjectRef[Any]:
        """The next item's ref, waiting at most ``timeout`` s (GetTimeoutError after).

        Args:
            timeout: seconds to wait for the next item (a number >= 0). None: wait
                until it comes, as ``next(generator)`` does.

        Raises:
            StopIteration: the generator has finished and every item was taken.
            GetTimeoutError: no new item came within ``timeout``; the generator can
                be asked again.
            TaskError: the generator raised (after its earlier items were taken).
        """
        ref: ObjectRef[Any] = self._runtime.stream_next(self._task_id, self._index, timeout)
        self._index += 1
        return ref

    def __aiter__(self) -> ObjectRefGenerator:
        return self

    async def __anext__(self) -> ObjectRef[Any]:
        import asyncio

        ref = await asyncio.get_running_loop().run_in_executor(None, self._next_or_none)
        if ref is None:
            raise StopAsyncIteration
        return ref

    def _next_or_none(self) -> ObjectRef[Any] | None:
        # StopIteration cannot cross a Future, so the end travels as None.
        try:
            return self.__next__()
        except StopIteration:
            return None

    def completed(self) -> ObjectRef[Any]:
        """A ref that is ready (with the item count) when the generator has finished."""
        return self._end_ref

    def __del__(self) -> None:
        runtime = getattr(self, "_runtime", None)
        if runtime is not None and runtime.is_alive():
            try:
                runtime.stream_release(self._task_id)
            except Exception:  # noqa: BLE001,S110 - interpreter shutdown: nothing to release
                pass

    def __reduce__(self) -> Any:
        raise TypeError(
            "an ObjectRefGenerator cannot be passed to other processes; iterate it here and "
            "pass the item refs instead")

    def __repr__(self) -> str:
        return f"ObjectRefGenerator(task {id_text(self._task_id)}, at item {self._index})"
