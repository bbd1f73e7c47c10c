"""``ActorPool``: spread calls over a fixed set of actors, as ``ray.util.ActorPool``.

    submit(fn, value) ── an idle actor? ──> fn(actor, value) -> ref, remembered in order
                      └─ none idle ──────> queued until one frees up
    get_next() / get_next_unordered() ──> a result; its actor takes the next queued call

Built only on the public API (``wait`` and ``get``), so it works on every backend.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ember import GetTimeoutError, ObjectRef, get, wait


class ActorPool:
    """Run ``fn(actor, value)`` calls on whichever of ``actors`` is free.

    Example::

        pool = ActorPool([Doubler.remote(), Doubler.remote()])
        list(pool.map(lambda actor, v: actor.double.remote(v), [1, 2, 3]))  # [2, 4, 6]

    Args:
        actors: the actor handles to share out calls between (at least one).
    """

    def __init__(self, actors: Iterable[Any]):
        self._idle = list(actors)
        if not self._idle:
            raise ValueError("ActorPool needs at least one actor, e.g. "
                             "ActorPool([Worker.remote() for _ in range(4)])")
        self._running: dict[ObjectRef[Any], tuple[int, Any]] = {}  # ref -> (index, actor)
        self._by_index: dict[int, ObjectRef[Any]] = {}
        self._queued: collections.deque[tuple[Callable[..., Any], Any]] = collections.deque()
        self._next_submit = 0
        self._next_return = 0

    def submit(self, fn: Callable[[Any, Any], ObjectRef[Any]], value: Any) -> None:
        """Schedule ``fn(actor, value)`` on an idle actor, or queue it until one is free.

        Args:
            fn: takes an actor and ``value`` and returns the ref of a call on that actor.
            value: the input handed to ``fn``.
        """
        if not self._idle:
            self._queued.append((fn, value))
            return
        actor = self._idle.pop()
        ref = fn(actor, value)
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"ActorPool: fn must return the ObjectRef of an actor call (e.g. "
                            f"lambda a, v: a.method.remote(v)), got {type(ref).__name__}")
        self._running[ref] = (self._next_submit, actor)
        self._by_index[self._next_submit] = ref
        self._next_submit += 1

    def has_next(self) -> bool:
        """Whether a submitted result has not been returned yet."""
        return bool(self._running) or bool(self._queued)

    def has_free(self) -> bool:
        """Whether an actor is idle (a ``submit`` would start at once)."""
        return bool(self._idle) and not self._queued

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order.

        Raises ``StopIteration`` when no result is pending, and the call's error if it
        failed.

        Args:
            timeout: seconds to wait for it; ``GetTimeoutError`` after that. None
                (the default): wait as long as it takes.
            ignore_if_timedout: on a timeout, skip that result for good instead of
                keeping it next in line.
        """
        if not self.has_next():
            raise StopIteration("ActorPool has no more results: submit() more first")
        ref = self._by_index[self._next_return]
        ready, _ = wait([ref], timeout=timeout)
        if not ready:
            if ignore_if_timedout:
                del self._by_index[self._next_return]
                self._next_return += 1
                self._return_actor(ref)
            raise GetTimeoutError(f"ActorPool.get_next timed out after {timeout}s")
        del self._by_index[self._next_return]
        self._next_return += 1
        self._return_actor(ref)
        return get(ref)

    def get_next_unordered(self, timeout: float | None = None,
                           ignore_if_timedout: bool = False) -> Any:
        """Whichever result is ready first.

        Args:
            timeout: seconds to wait for one; ``GetTimeoutError`` after that. None
                (the default): wait as long as it takes.
            ignore_if_timedout: accepted for Ray compatibility (nothing is skipped).
        """
        if not self.has_next():
            raise StopIteration("ActorPool has no more results: submit() more first")
        ready, _ = wait(list(self._running), num_returns=1, timeout=timeout)
        if not ready:
            raise GetTimeoutError(f"ActorPool.get_next_unordered timed out after {timeout}s")
        ref = ready[0]
        index, _ = self._running[ref]
        self._by_index.pop(index, None)
        if index == self._next_return:
            self._next_return += 1
            while self._next_return < self._next_submit and \
                    self._next_return not in self._by_index:
                self._next_return += 1
        self._return_actor(ref)
        return get(ref)

    def map(self, fn: Callable[[Any, Any], ObjectRef[Any]],
            values: Iterable[Any]) -> Iterator[Any]:
        """Results of ``fn(actor, value)`` for each value, in the order of ``values``.

        A generator, as in Ray: calls are submitted when iteration starts, after
        results of earlier ``submit`` calls not yet taken are dropped. A call's error
        is raised by the iterator.

        Args:
            fn: takes an actor and a value and returns the ref of a call on that actor,
                e.g. ``lambda actor, v: actor.double.remote(v)``.
            values: the inputs, one call each.
        """
        self._drain()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next()

    def map_unordered(self, fn: Callable[[Any, Any], ObjectRef[Any]],
                      values: Iterable[Any]) -> Iterator[Any]:
        """Results of ``fn(actor, value)`` as they finish.

        A generator, like ``map`` (earlier untaken results are dropped first).

        Args:
            fn: takes an actor and a value and returns the ref of a call on that actor.
            values: the inputs, one call each.
        """
        self._drain()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next_unordered()

    def push(self, actor: Any) -> None:
        """Add an actor to the pool (it takes a queued call at once, if any).

        Args:
            actor: an actor handle not already in the pool (``ValueError`` if it is).
        """
        if actor in self._idle or any(a is actor for _, a in self._running.values()):
            raise ValueError("this actor is already in the pool")
        self._idle.append(actor)
        self._start_queued()

    def pop_idle(self) -> Any | None:
        """Take an idle actor out of the pool (None if all are busy)."""
        return self._idle.pop() if self.has_free() else None

    def _return_actor(self, ref: ObjectRef[Any]) -> None:
        _, actor = self._running.pop(ref)
        self._idle.append(actor)
        self._start_queued()

    def _start_queued(self) -> None:
        while self._queued and self._idle:
            self.submit(*self._queued.popleft())

    def _drain(self) -> None:
        """map() starts from a clean slate: results of earlier submits are dropped."""
        while self.has_next():
            try:
                self.get_next_unordered()
            except Exception:  # noqa: BLE001,S110 - an earlier call's failure is not map's
                pass
