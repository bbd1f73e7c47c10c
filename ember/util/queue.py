"""``ember.util.queue``: a first-in first-out queue shared by tasks and actors, as
``ray.util.queue``::

    Queue(maxsize) ──> an async actor holding an asyncio.Queue
    put / get (blocking, with timeout) ──> one actor call each; the actor awaits room/items
    put_nowait / get_nowait (and _batch) ──> fail at once with Full / Empty

The handle pickles (it holds the actor's handle), so producers and consumers in other
tasks and actors share one queue. Built on the public API: it runs on every backend.
"""

from __future__ import annotations

import asyncio as _asyncio
import queue as _stdlib_queue
from collections.abc import Iterable as _Iterable
from typing import Any as _Any

from ember import get as _get
from ember import kill as _kill
from ember import remote as _remote


class Empty(_stdlib_queue.Empty):
    """Raised by ``get`` when no item came in time (``queue.Empty`` catches it too)."""


class Full(_stdlib_queue.Full):
    """Raised by ``put`` when no room came in time (``queue.Full`` catches it too)."""


class _QueueActor:
    """The queue's state; one instance per Queue, on its own worker."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self.items: _asyncio.Queue[_Any] | None = None

    def _queue(self) -> _asyncio.Queue[_Any]:
        if self.items is None:  # made on the actor's event loop, where it is used
            self.items = _asyncio.Queue(self.maxsize)
        return self.items

    async def qsize(self) -> int:
        return self._queue().qsize()

    async def put(self, item: _Any, timeout: float | None) -> bool:
        try:
            await _asyncio.wait_for(self._queue().put(item), timeout)
            return True
        except TimeoutError:
            return False

    async def put_nowait_batch(self, items: list[_Any]) -> bool:
        queue = self._queue()
        if self.maxsize > 0 and queue.qsize() + len(items) > self.maxsize:
            return False
        for item in items:
            queue.put_nowait(item)
        return True

    async def get(self, timeout: float | None) -> tuple[bool, _Any]:
        try:
            return True, await _asyncio.wait_for(self._queue().get(), timeout)
        except TimeoutError:
            return False, None

    async def get_nowait_batch(self, count: int) -> tuple[bool, list[_Any]]:
        queue = self._queue()
        if queue.qsize() < count:
            return False, []
        return True, [queue.get_nowait() for _ in range(count)]


class Queue:
    """A FIFO queue that tasks and actors share.

    Example::

        q = Queue(maxsize=10)

        @ember.remote
        def produce(q, n):
            for i in range(n):
                q.put(i)

        produce.remote(q, 3)
        [q.get(timeout=10) for _ in range(3)]   # [0, 1, 2]

    Args:
        maxsize: the most items it holds (0: no limit); ``put`` waits for room.
        actor_options: options for the queue's actor (e.g. ``{"num_cpus": 0}``, the
            default, so it takes no CPU from tasks).
    """

    def __init__(self, maxsize: int = 0, actor_options: dict[str, _Any] | None = None):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0:
            raise ValueError(f"maxsize must be an int >= 0 (0: no limit), got {maxsize!r}")
        options = {"num_cpus": 0, **(actor_options or {})}
        self.maxsize = maxsize
        self.actor = _remote(_QueueActor).options(**options).remote(maxsize)

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """How many items are in the queue now (same as ``qsize``)."""
        return self.qsize()

    def qsize(self) -> int:
        """How many items are in the queue now."""
        return int(_get(self.actor.qsize.remote()))

    def empty(self) -> bool:
        """Whether the queue holds no item now (other processes may change that)."""
        return self.qsize() == 0

    def full(self) -> bool:
        """Whether the queue holds ``maxsize`` items now (never with ``maxsize=0``)."""
        return self.maxsize > 0 and self.qsize() >= self.maxsize

    def put(self, item: _Any, block: bool = True, timeout: float | None = None) -> None:
        """Add ``item``; wait for room (up to ``timeout`` s) unless ``block=False``.

        Args:
            item: any picklable value.
            block: wait for room (True, the default); False fails at once when full,
                like ``put_nowait``.
            timeout: with ``block``, seconds to wait at most (a number >= 0). None:
                wait as long as it takes. Ignored with ``block=False``.

        Raises:
            Full: no room came (at once with ``block=False``, else within ``timeout``).
        """
        _check_timeout(timeout)
        if not block:
            self.put_nowait(item)
            return
        if not _get(self.actor.put.remote(item, timeout)):
            raise Full(f"the queue stayed full for {timeout}s")

    def put_nowait(self, item: _Any) -> None:
        """Add ``item`` if there is room, else raise ``Full`` at once.

        Args:
            item: any picklable value.
        """
        if not _get(self.actor.put_nowait_batch.remote([item])):
            raise Full(f"the queue is full ({self.maxsize} items)")

    def put_nowait_batch(self, items: _Iterable[_Any]) -> None:
        """Add every item at once, or none (raises Full if they do not all fit).

        Args:
            items: the values to add, in order (any iterable of picklable values).
        """
        batch = list(items)
        if not _get(self.actor.put_nowait_batch.remote(batch)):
            raise Full(f"{len(batch)} items do not fit in the queue (maxsize {self.maxsize})")

    async def put_async(self, item: _Any, timeout: float | None = None) -> None:
        """``put`` for async code (e.g. an async actor): ``await q.put_async(item)``.

        Args:
            item: any picklable value.
            timeout: seconds to wait for room at most (a number >= 0). None: wait as
                long as it takes.

        Raises:
            Full: no room came within ``timeout``.
        """
        _check_timeout(timeout)
        if not await self.actor.put.remote(item, timeout):
            raise Full(f"the queue stayed full for {timeout}s")

    def get(self, block: bool = True, timeout: float | None = None) -> _Any:
        """Remove and return the oldest item; wait for one (up to ``timeout`` s) unless
        ``block=False``.

        Args:
            block: wait for an item (True, the default); False fails at once when
                empty, like ``get_nowait``.
            timeout: with ``block``, seconds to wait at most (a number >= 0). None:
                wait as long as it takes. Ignored with ``block=False``.

        Raises:
            Empty: no item came (at once with ``block=False``, else within ``timeout``).
        """
        _check_timeout(timeout)
        if not block:
            return self.get_nowait()
        found, item = _get(self.actor.get.remote(timeout))
        if not found:
            raise Empty(f"no item came within {timeout}s")
        return item

    def get_nowait(self) -> _Any:
        """Remove and return the oldest item, or raise ``Empty`` at once if there is none."""
        return self.get_nowait_batch(1)[0]

    def get_nowait_batch(self, num_items: int) -> list[_Any]:
        """Remove ``num_items`` items at once, or none (raises Empty if fewer are there).

        Args:
            num_items: how many items to take (an int >= 0).

        Returns:
            The items, oldest first.
        """
        if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 0:
            raise ValueError(f"num_items must be an int >= 0, got {num_items!r}")
        found, items = _get(self.actor.get_nowait_batch.remote(num_items))
        if not found:
            raise Empty(f"fewer than {num_items} item(s) are in the queue")
        return list(items)

    async def get_async(self, timeout: float | None = None) -> _Any:
        """``get`` for async code (e.g. an async actor): ``item = await q.get_async()``.

        Args:
            timeout: seconds to wait for an item at most (a number >= 0). None: wait
                as long as it takes.

        Raises:
            Empty: no item came within ``timeout``.
        """
        _check_timeout(timeout)
        found, item = await self.actor.get.remote(timeout)
        if not found:
            raise Empty(f"no item came within {timeout}s")
        return item

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """End the queue's actor (its items are dropped); the queue is unusable after.

        Args:
            force: accepted for Ray compatibility; the actor is always killed at once.
            grace_period_s: accepted for Ray compatibility and ignored.
        """
        if self.actor is not None:
            _kill(self.actor)
            self.actor = None


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")


__all__ = ["Empty", "Full", "Queue"]
