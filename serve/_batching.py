"""``@serve.batch``: concurrent calls with one item each become one call with a list.

    caller 1: await model(x1) --\\
    caller 2: await model(x2) ----> queue --(up to max_batch_size items, or
    caller 3: await model(x3) --/          batch_wait_timeout_s after the first)--> 
                                           model([x1, x2, x3]) -> [y1, y2, y3] -> callers

One queue per instance (per replica), living on the replica's event loop. The wrapped
function must return a list as long as its input; an exception reaches every caller of
that batch.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Callable
from typing import Any

from ._config import check_number

_BATCH_ATTRIBUTE = "__ember_serve_batch_size__"
_PER_INSTANCE: weakref.WeakKeyDictionary[Any, dict[Any, _BatchQueue]] = \
    weakref.WeakKeyDictionary()
_SHARED: dict[Any, _BatchQueue] = {}


class _BatchQueue:
    """Items waiting to be sent to the wrapped function, and the task that sends them."""

    def __init__(self, function: Callable[..., Any], max_batch_size: int, timeout_s: float):
        self.function = function
        self.max_batch_size = max_batch_size
        self.timeout_s = timeout_s
        self.items: list[tuple[Any, asyncio.Future[Any]]] = []
        self.full = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    def put(self, owner: Any, item: Any) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.items.append((item, future))
        if len(self.items) >= self.max_batch_size:
            self.full.set()
        if self.worker is None or self.worker.done():
            self.worker = asyncio.ensure_future(self._run(owner))
        return future

    async def _run(self, owner: Any) -> None:
        while self.items:
            if len(self.items) < self.max_batch_size and self.timeout_s > 0:
                try:
                    await asyncio.wait_for(self.full.wait(), self.timeout_s)
                except TimeoutError:
                    pass
            batch = self.items[:self.max_batch_size]
            del self.items[:self.max_batch_size]
            if len(self.items) < self.max_batch_size:
                self.full.clear()
            await self._call(owner, batch)

    async def _call(self, owner: Any, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        inputs = [item for item, _ in batch]
        try:
            outputs = self.function(inputs) if owner is None else self.function(owner, inputs)
            if inspect.isawaitable(outputs):
                outputs = await outputs
            if not isinstance(outputs, (list, tuple)) or len(outputs) != len(inputs):
                got = len(outputs) if isinstance(outputs, (list, tuple)) else type(outputs).__name__
                raise TypeError(
                    f"@serve.batch function {self.function.__qualname__} got {len(inputs)} "
                    f"inputs and must return a list of {len(inputs)} results, returned {got}")
        except Exception as error:  # noqa: BLE001 - every caller of this batch sees it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), output in zip(batch, outputs):
            if not future.done():
                future.set_result(output)


def batch(_function: Callable[..., Any] | None = None, *, max_batch_size: int = 10,
          batch_wait_timeout_s: float = 0.01) -> Any:
    """Group concurrent calls into one call on a list (``@serve.batch`` or with options).

    The decorated function (an ``async def`` or plain method/function) takes a list of
    inputs and returns a list of outputs of the same length; callers pass one input and
    get one output. Use it on a method of a deployment class, whose first parameter
    is ``self``.

    Args:
        max_batch_size: the largest list passed at once (default 10; an int >= 1). A
            full batch is sent at once. A deployment's default ``max_ongoing_requests``
            is twice its largest batch size when that exceeds 5.
        batch_wait_timeout_s: seconds to wait for a batch to fill after its first item
            (default 0.01; 0: send what is queued without waiting).

    Returns:
        The batched ``async`` function (or a decorator making one, when called with
        options only). Each call takes exactly one input; an exception raised by the
        wrapped function, or a result list of the wrong length, reaches every caller
        of that batch.

    Example::

        @serve.deployment
        class Model:
            @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
            async def predict(self, inputs: list) -> list:
                return [x * 2 for x in inputs]
            async def __call__(self, request):
                return await self.predict(float(await request.body()))
    """
    check_number("max_batch_size", max_batch_size, minimum=1, integer=True)
    check_number("batch_wait_timeout_s", batch_wait_timeout_s)

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(function):
            raise TypeError(f"@serve.batch needs a function or method, got {function!r}")
        parameters = list(inspect.signature(function).parameters)
        is_method = bool(parameters) and parameters[0] == "self"

        @functools.wraps(function)
        async def batched(*args: Any) -> Any:
            owner, rest = (args[0], args[1:]) if is_method else (None, args)
            if len(rest) != 1:
                raise TypeError(
                    f"{function.__qualname__} is a @serve.batch function: call it with one "
                    f"input (it receives a list of them), got {len(rest)} arguments")
            queue = _queue_for(batched, owner, function, max_batch_size, batch_wait_timeout_s)
            return await queue.put(owner, rest[0])

        setattr(batched, _BATCH_ATTRIBUTE, max_batch_size)
        return batched

    if _function is not None:
        return wrap(_function)
    return wrap


def _queue_for(key: Any, owner: Any, function: Callable[..., Any], max_batch_size: int,
               timeout_s: float) -> _BatchQueue:
    """The queue of ``owner`` (None for a plain function) for one batched function.

    Queues live in module-level tables, not in the wrapper's closure: ``functools.wraps``
    gives the wrapper the user's module, so it travels by value with the user's class,
    and queues (weak references, futures) must not travel.
    """
    table = _SHARED if owner is None else _PER_INSTANCE.setdefault(owner, {})
    queue = table.get(key)
    if queue is None:
        queue = table[key] = _BatchQueue(function, max_batch_size, timeout_s)
    return queue


def largest_batch_size(target: Any) -> int:
    """The largest ``max_batch_size`` among a class's batched methods (0 if none)."""
    sizes = [getattr(member, _BATCH_ATTRIBUTE, 0) for member in vars(target).values()] \
        if inspect.isclass(target) else [getattr(target, _BATCH_ATTRIBUTE, 0)]
    for base in getattr(target, "__mro__", ())[1:]:
        sizes += [getattr(member, _BATCH_ATTRIBUTE, 0) for member in vars(base).values()]
    return max(sizes, default=0)
