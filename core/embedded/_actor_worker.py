"""Running an actor's calls inside its worker process.

    plain actor (max_concurrency 1): each call runs in the main thread, in order
    threaded actor (max_concurrency n): calls run on a pool of n threads
    async actor (any ``async def``): calls are coroutines on one event loop thread,
                                      at most max_concurrency at a time

Results of the main-thread path are batched with the task loop's; the other paths send
each result as soon as it is ready.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .._object_ref import forbid_blocking_in
from .._remote_error import capture
from . import _payload as P
from ._protocol import Msg
from ._returns import split_returns

if TYPE_CHECKING:
    from ._worker import TaskLoop


class ActorRunner:
    def __init__(self, loop: TaskLoop, instance: Any, name: str, concurrency: int,
                 is_async: bool):
        self.loop = loop
        self.instance = instance
        self.name = name
        self.pool: ThreadPoolExecutor | None = None
        self.event_loop: asyncio.AbstractEventLoop | None = None
        self.running: dict[int, asyncio.Task[None]] = {}  # async calls; touched by the loop only
        if is_async:
            self.event_loop = asyncio.new_event_loop()
            forbid_blocking_in(self.event_loop)
            self.limit = asyncio.Semaphore(concurrency)
            threading.Thread(target=self.event_loop.run_forever, name="ember-actor-loop",
                             daemon=True).start()
        elif concurrency > 1:
            self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="ember-actor")

    def run(self, message: tuple[Any, ...]) -> None:
        if self.event_loop is not None:
            self.event_loop.call_soon_threadsafe(self._start_async, message)
        elif self.pool is not None:
            self.pool.submit(self._run_threaded, message)
        else:
            self._run_in_order(message)

    def cancel(self, task_id: int) -> bool:
        """Cancel a running async call (its coroutine gets CancelledError). False for
        plain and threaded actors, whose running calls the task loop interrupts (main
        thread) or that run to completion (pool threads), as in Ray."""
        if self.event_loop is None:
            return False
        # Queued behind the call's _start_async (FIFO), so the call is registered by then.
        self.event_loop.call_soon_threadsafe(self._cancel_async, task_id)
        return True

    def _start_async(self, message: tuple[Any, ...]) -> None:
        assert self.event_loop is not None
        task_id = message[1]
        task = self.event_loop.create_task(self._run_async(message))
        self.running[task_id] = task
        task.add_done_callback(lambda done: self._async_done(task_id, done))

    def _cancel_async(self, task_id: int) -> None:
        task = self.running.get(task_id)
        if task is not None:
            task.cancel()

    def _async_done(self, task_id: int, task: asyncio.Task[None]) -> None:
        self.running.pop(task_id, None)
        if task.cancelled():  # cancelled before its body ran (e.g. waiting for a slot)
            now = time.time()
            self.loop.runtime.send((Msg.DONE, task_id, P.cancelled(), now, now))

    def _prepare(self, message: tuple[Any, ...]) -> tuple[Any, list[Any], dict[str, Any]]:
        _, _task_id, method, args_payload, ref_values, _return_ids, _name, _stream = message
        args, kwargs = self.loop.arguments(args_payload, ref_values)
        return getattr(self.instance, method), args, kwargs

    def _run_in_order(self, message: tuple[Any, ...]) -> None:
        task_id, return_ids, name, stream = message[1], message[5], message[6], message[7]
        start = time.time()
        try:
            bound, args, kwargs = self._prepare(message)
            results, values = self.loop.invoke(
                task_id, lambda: bound(*args, **kwargs), name, len(return_ids), stream)
        except BaseException as error:  # noqa: BLE001 - the arguments failed to load: report it
            results, values = P.error(capture(error, name)), None
        self.loop.finished(task_id, results, values, start)

    def _run_threaded(self, message: tuple[Any, ...]) -> None:
        task_id, return_ids, name, stream = message[1], message[5], message[6], message[7]
        start = time.time()
        values = None
        try:
            bound, args, kwargs = self._prepare(message)
            results, values = self._results(task_id, bound(*args, **kwargs), return_ids,
                                            name, stream)
        except BaseException as error:  # noqa: BLE001 - every user failure goes back to the caller
            if isinstance(error, SystemExit):
                self.loop.exit_actor(task_id, error, name)
            results = P.error(capture(error, name))
        self.loop.runtime.send((Msg.DONE, task_id, results, start, time.time()))
        del values

    def _results(self, task_id: int, value: Any, return_ids: list[int], name: str,
                 stream: int) -> tuple[Any, Any]:
        """(DONE results, values to keep alive until sent) for a method's return value."""
        if stream:
            return self.loop.stream(task_id, iter(value), stream), None
        values = _split(value, len(return_ids), name)
        return [self.loop.store(v) for v in values], values

    async def _run_async(self, message: tuple[Any, ...]) -> None:
        task_id, return_ids, name, stream = message[1], message[5], message[6], message[7]
        start = time.time()
        results: list[Any] | P.Payload  # a result per return, or one ERROR payload
        values = None
        async with self.limit:
            try:
                bound, args, kwargs = self._prepare(message)
                value = bound(*args, **kwargs)
                if stream and inspect.isasyncgen(value):
                    results = await self._stream_async(task_id, value, stream)
                else:
                    if inspect.isawaitable(value):
                        value = await value
                    results, values = self._results(task_id, value, return_ids, name, stream)
            except asyncio.CancelledError:  # ember.cancel() of this call
                results = P.cancelled()
            except BaseException as error:  # noqa: BLE001 - every user failure goes back to the caller
                if isinstance(error, SystemExit):
                    self.loop.exit_actor(task_id, error, name)
                results = P.error(capture(error, name))
        self.loop.runtime.send((Msg.DONE, task_id, results, start, time.time()))
        del values

    async def _stream_async(self, task_id: int, items: Any,
                            backpressure: int) -> list[tuple[P.Payload, list[int]]]:
        runtime = self.loop.runtime
        produced = 0
        async for item in items:
            self.loop.send_item(task_id, item)
            produced += 1
            while produced - runtime.stream_acks.get(task_id, 0) >= backpressure:
                await asyncio.sleep(0.001)  # acks are read by the main thread
        runtime.stream_acks.pop(task_id, None)
        return [self.loop.store(produced)]


def _split(value: Any, count: int, name: str) -> list[Any]:

    return split_returns(value, count, name)
