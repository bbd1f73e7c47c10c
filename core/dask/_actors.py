"""Actors on Dask: a Dask actor hosts the user's instance; calls are ordinary tasks.

    create: client.submit(ActorHost, ..., actor=True)  -> a Future whose value is the
            actor proxy; Ember's handle keeps a ref to it, so Dask keeps the actor alive
            exactly as long as some handle exists (handles travel as refs)
    call:   client.submit(relay, <that future>, caller, seq, method, ...)  -> an ordinary
            Future (Dask's ActorFuture cannot be a dependency or be waited on)

``ActorHost.invoke`` runs on the worker's event loop: it starts each caller's calls in
the order the caller made them (relays may arrive out of order, or twice after a worker
loss), plain methods on a thread pool of ``max_concurrency`` threads (1: one at a
time, in order), ``async def`` methods on the loop, at most ``max_concurrency`` at once.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._object_ref import forbid_blocking_in
from .._remote_error import capture
from .._task_args import Slot, fill_slots
from ._output import labelled
from ._tasks import RemoteFailure, attach_worker_runtime, failure_among

_REMEMBERED_CALLS = 4096
"""Results kept per caller so that a relay re-run after a worker loss is not re-executed."""


def _call_labelled(label: str, method: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run a plain method on an executor thread, its output labelled with the actor."""
    with labelled(label):
        return method(*args, **kwargs)


class ActorHost:
    def __init__(self, class_blob: bytes, name: str, args_blob: bytes, slots: list[Slot],
                 concurrency: int, *resolved: Any):
        attach_worker_runtime()
        self.name = name
        try:
            failed = failure_among(resolved)
            if failed is not None:  # an argument's call failed: no instance
                raise failed.error
            cls = pickle.loads(class_blob)
            args, kwargs = pickle.loads(args_blob)
            fill_slots(args, kwargs, list(zip(slots, resolved)))
            with labelled(name):
                self.instance = cls(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - whatever __init__ raised, for the caller
            raise RemoteFailure(capture(error, f"{name}.__init__")) from None
        self.concurrency = concurrency
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="ember-actor")
        self.next_seq: dict[str, int] = collections.defaultdict(int)
        self.results: dict[str, collections.OrderedDict[int, asyncio.Future[Any]]] = \
            collections.defaultdict(collections.OrderedDict)
        self.given_up: dict[str, set[int]] = collections.defaultdict(set)
        self._turn: asyncio.Condition | None = None
        self._slots: asyncio.Semaphore | None = None

    async def invoke(self, caller: str, seq: int, method: str, args_blob: bytes,
                     slots: list[Slot], resolved: list[Any]) -> Any:
        if self._turn is None:
            self._turn = asyncio.Condition()
            self._slots = asyncio.Semaphore(self.concurrency)
            # Async methods run on the Dask worker's own loop: blocking it stalls the worker.
            forbid_blocking_in(asyncio.get_running_loop())
        seen = self.results[caller]
        if seq in seen:  # a relay re-run after a worker loss: same answer, run once
            return await asyncio.shield(seen[seq])
        async with self._turn:
            try:
                await self._turn.wait_for(lambda: self.next_seq[caller] >= seq)
            except asyncio.CancelledError:  # its relay was cancelled while it waited
                self._give_up_turn(caller, seq)
                raise
            if seq in seen:
                return await asyncio.shield(seen[seq])
            outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            seen[seq] = outcome
            while len(seen) > _REMEMBERED_CALLS:
                seen.popitem(last=False)
            self._advance(caller, seq)
            # Started in order: plain methods queue on the executor in this order.
            running = asyncio.ensure_future(self._run(method, args_blob, slots, resolved))
        try:
            outcome.set_result(await running)
        except BaseException as error:  # noqa: BLE001 - relayed to the caller
            outcome.set_exception(error)
        return await outcome

    async def skip(self, caller: str, seq: int) -> None:
        """Call ``seq`` of ``caller`` will never arrive (Dask did not run its relay: an
        argument failed); the caller's later calls must not wait for it."""
        if self._turn is None:
            self._turn = asyncio.Condition()
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._turn:
            self._give_up_turn(caller, seq)

    def _advance(self, caller: str, seq: int) -> None:
        """Call ``seq`` has its turn: the next one may go (past calls given up on)."""
        following = seq + 1
        given_up = self.given_up.get(caller)
        while given_up and following in given_up:
            given_up.discard(following)
            following += 1
        self.next_seq[caller] = following
        assert self._turn is not None
        self._turn.notify_all()

    def _give_up_turn(self, caller: str, seq: int) -> None:
        """A call cancelled before its turn never runs; the caller's later calls must not
        wait for it forever (they would: each waits for the one before)."""
        if self.next_seq[caller] == seq:
            self._advance(caller, seq)
        elif self.next_seq[caller] < seq:
            self.given_up[caller].add(seq)

    async def invoke_stream(self, caller: str, seq: int, method: str, args_blob: bytes,
                            slots: list[Slot], resolved: list[Any], queue_name: str) -> int:
        """Like ``invoke``, for a generator method: items go to the Dask queue."""
        produced: int = await self.invoke(caller, seq, method, args_blob, slots,
                                          [*resolved, _StreamTo(queue_name)])
        return produced

    async def _run(self, method: str, args_blob: bytes, slots: list[Slot],
                   resolved: list[Any]) -> Any:
        if resolved and isinstance(resolved[-1], _StreamTo):
            return await self._run_stream(method, args_blob, slots, resolved[:-1],
                                          resolved[-1].queue_name)
        name = f"{self.name}.{method}"
        failed = failure_among(resolved)
        if failed is not None:  # an argument's call failed: so does this one, unrun
            return failed
        try:
            args, kwargs = pickle.loads(args_blob)
            fill_slots(args, kwargs, list(zip(slots, resolved)))
            bound = getattr(self.instance, method)
            if inspect.iscoroutinefunction(bound):
                assert self._slots is not None
                async with self._slots:
                    with labelled(self.name):  # this call's own asyncio task: its context
                        return await bound(*args, **kwargs)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self.executor, functools.partial(_call_labelled, self.name, bound, args, kwargs))
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the method failed (sys.exit too)
            raise RemoteFailure(capture(error, name)) from None


    async def _run_stream(self, method: str, args_blob: bytes, slots: list[Slot],
                          resolved: list[Any], queue_name: str) -> int:
        from distributed import Queue, get_client

        name = f"{self.name}.{method}"
        client = get_client()
        queue = Queue(queue_name, client=client)  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        produced = 0
        try:
            args, kwargs = pickle.loads(args_blob)
            fill_slots(args, kwargs, list(zip(slots, resolved)))
            items = getattr(self.instance, method)(*args, **kwargs)
            if inspect.isasyncgen(items):
                async for item in items:
                    await loop.run_in_executor(None, _push, client, queue, item)
                    produced += 1
            else:
                def drain() -> int:
                    count = 0
                    for item in items:
                        _push(client, queue, item)
                        count += 1
                    return count
                produced = await loop.run_in_executor(self.executor, drain)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the method failed (sys.exit too)
            record = capture(error, name)
            await loop.run_in_executor(None, queue.put, ["error", pickle.dumps(record)])
            raise RemoteFailure(record) from None
        await loop.run_in_executor(None, queue.put, ["end", produced])
        return produced


class _StreamTo:
    """Marks a call whose generator's items go to the named Dask queue."""

    def __init__(self, queue_name: str):
        self.queue_name = queue_name


def _push(client: Any, queue: Any, item: Any) -> None:
    [future] = client.scatter([item], hash=False)
    queue.put(future)


def relay(actor: Any, caller: str, seq: int, method: str, args_blob: bytes,
          slots: list[Slot], *resolved: Any) -> Any:
    """An ordinary task that makes one actor call, so its result is an ordinary key."""
    from distributed import rejoin, secede

    # Waiting on the actor must not hold one of the worker's task threads.
    secede()  # type: ignore[no-untyped-call]
    try:
        return actor.invoke(caller, seq, method, args_blob, slots, list(resolved)).result()
    finally:
        rejoin()  # type: ignore[no-untyped-call]


def skip_call(actor: Any, caller: str, seq: int) -> None:
    """An ordinary task: tell the actor that call ``seq`` of ``caller`` never comes."""
    from distributed import rejoin, secede

    secede()  # type: ignore[no-untyped-call]
    try:
        actor.skip(caller, seq).result()
    finally:
        rejoin()  # type: ignore[no-untyped-call]


def relay_stream(actor: Any, caller: str, seq: int, method: str, args_blob: bytes,
                 slots: list[Slot], queue_name: str, *resolved: Any) -> int:
    """``relay`` for a streaming call: the items travel through the queue."""
    from distributed import rejoin, secede

    secede()  # type: ignore[no-untyped-call]
    try:
        produced: int = actor.invoke_stream(caller, seq, method, args_blob, slots,
                                            list(resolved), queue_name).result()
        return produced
    finally:
        rejoin()  # type: ignore[no-untyped-call]
