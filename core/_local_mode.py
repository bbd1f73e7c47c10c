"""``init(local_mode=True)``: every task runs at once, in the calling thread.

Nothing is parallel, so ``pdb`` and print debugging work inside tasks. Values still go
through serialization, so mutating an argument after ``put`` behaves as it would on
the real engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import os
import threading
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from . import _serialization
from ._actor import ActorHandle
from ._backend import LocalRefCounts
from ._generator import ObjectRefGenerator
from ._object_ref import ObjectRef
from ._options import InitOptions, TaskOptions
from ._placement_group import PlacementGroup
from ._remote_error import capture
from ._resources import fits
from .exceptions import ActorDiedError, InfeasibleResourcesError

T = TypeVar("T")


class LocalModeBackend(LocalRefCounts):
    def __init__(self, options: InitOptions):
        super().__init__()
        cpus = float(options.num_cpus if options.num_cpus is not None else os.cpu_count() or 1)
        self.totals = {"CPU": cpus, "GPU": float(options.num_gpus or 0),
                       **{k: float(v) for k, v in options.resources.items()}}
        self._objects: dict[int, tuple[bool, Any]] = {}  # id -> (is_error, value)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._events: list[dict[str, Any]] = []
        self._kv: dict[str, bytes] = {}
        self._instances: dict[int, Any] = {}
        self._dead: dict[int, str] = {}
        self._names: dict[tuple[str, str], Any] = {}
        self._streams: dict[int, list[Any]] = {}
        self.alive = True

    def _first_local_ref(self, object_id: int) -> None:
        """Values hold their refs as Python objects, so nothing to count."""

    def _last_local_ref(self, object_id: int) -> None:
        self._objects.pop(object_id, None)

    def _store(self, is_error: bool, value: Any) -> ObjectRef[Any]:
        object_id = next(self._ids)
        self._objects[object_id] = (is_error, value)
        return ObjectRef._make(object_id, self, counted=True)

    def _copy(self, value: Any) -> Any:
        serialized = _serialization.dumps(value)
        return _serialization.loads(serialized.header, [bytes(b) for b in serialized.buffers])

    def submit(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               options: TaskOptions) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        demand = options.resource_demand()
        if not fits(self.totals, demand):
            raise InfeasibleResourcesError(
                f"task {function.name!r} needs {demand} but the cluster has {self.totals}")
        return self._run(function.name, function._function, args, kwargs, options.num_returns)

    def _run(self, name: str, call: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
             num_returns: Any) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        """Run ``call`` now; results (or its error) become objects."""
        args = tuple(self._resolve(a) for a in args)
        kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
        streaming = num_returns == "streaming"
        count = 1 if streaming else max(num_returns, 1)
        start = time.time()
        try:
            with self._lock:
                value = call(*self._copy(args), **self._copy(kwargs))
                if inspect.isawaitable(value):
                    value = _run_coroutine(value)
                if streaming:
                    value = _drain(value)
            if streaming:
                items = [self._store(False, self._copy(v)) for v in value]
                stream_id = next(self._ids)
                self._streams[stream_id] = items
                end = self._store(False, len(items))
                return [ObjectRefGenerator._make(stream_id, end, self)]
            values = [value] if count == 1 else list(value)
            if len(values) != count:
                raise ValueError(
                    f"task {name} has num_returns={count} but returned {len(values)} values")
            refs = [self._store(False, self._copy(v)) for v in values]
        except (Exception, SystemExit) as error:  # noqa: BLE001 - the task failed (sys.exit too)
            failure = capture(error, name).to_exception()
            refs = [self._store(True, failure) for _ in range(count)]
            if streaming:
                stream_id = next(self._ids)
                self._streams[stream_id] = [failure]
                return [ObjectRefGenerator._make(stream_id, refs[0], self)]
        self._events.append({"name": name, "cat": "task", "ph": "X",
                             "ts": start * 1e6, "dur": (time.time() - start) * 1e6,
                             "pid": "ember", "tid": "local mode"})
        return refs if streaming else refs[:num_returns]

    # -- actors, groups, streams ------------------------------------------------------
    def create_actor(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: Any) -> Any:
        key = (options.namespace or "default", options.name) if options.name else None
        if key in self._names:
            if options.get_if_exists:
                return self._names[key]
            raise ValueError(f"an actor named {options.name!r} already exists; choose another "
                             "name or pass get_if_exists=True")
        actor_id = next(self._ids)
        try:
            instance = actor_class._cls(*(self._resolve(a) for a in args),
                                        **{k: self._resolve(v) for k, v in kwargs.items()})
            self._instances[actor_id] = instance
        except Exception as error:  # noqa: BLE001 - whatever __init__ raised kills the actor
            self._dead[actor_id] = f"its constructor raised:\n{capture(error, actor_class.__name__).traceback_text}"
        handle = ActorHandle._make(actor_id, actor_class.__name__, actor_class._methods,
                                   self.put(None))
        if key is not None:
            self._names[key] = handle
        return handle

    def call_actor(self, handle: Any, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any],
                   num_returns: Any) -> Any:
        instance = self._instances.get(handle._actor_id)
        if instance is None:
            why = self._dead.get(handle._actor_id, "it was killed")
            error = ActorDiedError(f"actor {handle._class_name} is dead: {why}")
            return [self._store(True, error) for _ in range(max(int(num_returns) if num_returns != "streaming" else 1, 1))]
        refs = self._run(f"{handle._class_name}.{method}", getattr(instance, method), args,
                         kwargs, num_returns)
        return refs[0] if num_returns == "streaming" else refs

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        self._instances.pop(handle._actor_id, None)
        self._dead[handle._actor_id] = "it was killed with ember.kill"
        for key, named in list(self._names.items()):
            if named._actor_id == handle._actor_id:
                del self._names[key]

    def get_actor(self, name: str, namespace: str | None) -> Any:
        handle = self._names.get((namespace or "default", name))
        if handle is None:
            raise ValueError(f"no actor named {name!r} in namespace {namespace or 'default'!r}")
        return handle

    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> Any:
        return PlacementGroup._make(next(self._ids), bundles, strategy, name, self.put(True))

    def remove_placement_group(self, group: Any) -> None:
        """Nothing is reserved in local mode."""

    def stream_next(self, task_id: int, index: int, timeout: float | None) -> Any:
        items = self._streams.get(task_id, [])
        if index >= len(items):
            raise StopIteration
        item = items[index]
        if isinstance(item, BaseException):
            raise item
        return item

    def stream_release(self, task_id: int) -> None:
        self._streams.pop(task_id, None)

    def _resolve(self, value: Any) -> Any:
        return self.get([value], None)[0] if type(value) is ObjectRef else value

    def put(self, value: Any) -> ObjectRef[Any]:
        return self._store(False, self._copy(value))

    def get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]:
        values = []
        for ref in refs:
            is_error, value = self._objects[ref._id]
            if is_error:
                raise value
            values.append(value)
        return values

    def wait(self, refs: list[ObjectRef[Any]], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
        return list(refs[:num_returns]), list(refs[num_returns:])

    def cancel(self, ref: ObjectRef[Any], force: bool) -> None:
        """Tasks finished when submitted; there is nothing left to cancel."""

    def as_concurrent_future(self, ref: ObjectRef[Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(self.get([ref], None)[0])
        except Exception as error:  # noqa: BLE001 - the task's error, handed to the awaiting caller
            future.set_exception(error)
        return future

    def cluster_resources(self) -> dict[str, float]:
        return {k: v for k, v in self.totals.items() if v or k == "CPU"}

    def available_resources(self) -> dict[str, float]:
        return self.cluster_resources()

    def timeline_events(self) -> list[dict[str, Any]]:
        return list(self._events)

    def kv_put(self, key: str, value: bytes | None) -> None:
        if value is None:
            self._kv.pop(key, None)
        else:
            self._kv[key] = value

    def kv_get(self, key: str) -> bytes | None:
        return self._kv.get(key)

    def is_alive(self) -> bool:
        return self.alive

    def shutdown(self) -> None:
        self.alive = False
        self._objects.clear()




def _drain(value: Any) -> list[Any]:
    """All items of a generator or async generator (local mode runs it to the end)."""
    if inspect.isasyncgen(value):
        async def collect() -> list[Any]:
            return [item async for item in value]
        return _run_coroutine(collect())
    return list(value)


def _run_coroutine(awaitable: Awaitable[T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(awaitable)
    finally:
        loop.close()
