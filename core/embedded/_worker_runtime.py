"""A worker process's view of the engine: the Backend that nested API calls use.

Every call becomes a message to the driver; calls that need an answer (get, wait,
allocations) wait for a reply with their request id. There is no reader thread:
whichever thread waits reads the socket itself (leader/follower), so the common case —
one thread running a task — never hands a message between threads.

Reference-count changes are queued lock-free (they can happen inside garbage
collection) and sent in order ahead of the next message, so the driver never sees a
result before the refs it depends on are registered.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
from typing import TYPE_CHECKING, Any

import cloudpickle  # type: ignore[import-untyped]

from .. import _serialization
from .._actor import ActorHandle
from .._backend import LocalRefCounts
from .._generator import ObjectRefGenerator
from .._object_ref import ObjectRef
from .._options import TaskOptions
from .._placement_group import PlacementGroup
from .._resources import fits
from .._task_args import split_args
from ..exceptions import GetTimeoutError, InfeasibleResourcesError
from . import _payload as P
from ._arena import Arena, allocation_size, write_file
from ._object_store import INLINE_THRESHOLD
from ._protocol import Channel, Msg

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._actor import MethodInfo
    from .._remote_function import _Shipped

ID_SHIFT = 40


class WorkerRuntime(LocalRefCounts):
    def __init__(self, channel: Channel, index: int, arena: Arena, totals: dict[str, float]):
        super().__init__()
        self.channel = channel
        self.index = index
        self.arena = arena
        self.totals = totals
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._replies: dict[int, Any] = {}
        self._cv = threading.Condition()
        self._reading = False
        self._followers = 0
        self.on_message: Any = None  # the task loop's handler for EXEC / CANCEL
        self._ref_events: collections.deque[tuple[int, int]] = collections.deque()
        self._send_lock = threading.Lock()
        self._registered_functions: set[int] = set()
        self.depth = 0
        self.enter_blocking: Any = list  # set by the task loop
        self.leave_blocking: Any = lambda: None
        self.pending_cancel: int | None = None
        self.stream_acks: dict[int, int] = {}  # streaming task id -> items consumed

    # -- plumbing ------------------------------------------------------------------------
    def new_id(self) -> int:
        return (self.index << ID_SHIFT) | next(self._ids)

    def send(self, message: tuple[Any, ...]) -> None:
        """Send ``message`` after every queued reference change, atomically."""
        with self._send_lock:
            refs = self._drain_ref_events()
            if refs is not None:
                self.channel.send_many([refs, message])
            else:
                self.channel.send(message)

    def send_many(self, messages: list[tuple[Any, ...]]) -> None:
        with self._send_lock:
            refs = self._drain_ref_events()
            self.channel.send_many([refs, *messages] if refs is not None else messages)

    def flush_refs(self) -> None:
        with self._send_lock:
            refs = self._drain_ref_events()
            if refs is not None:
                self.channel.send(refs)

    def _drain_ref_events(self) -> tuple[Msg, list[int], list[int], list[int]] | None:
        if not self._ref_events:
            return None
        increfs: list[int]
        decrefs: list[int]
        unpins: list[int]
        increfs, decrefs, unpins = [], [], []
        lists = (increfs, decrefs, unpins)
        while self._ref_events:
            kind, object_id = self._ref_events.popleft()
            lists[kind].append(object_id)
        return (Msg.REFS, increfs, decrefs, unpins)

    def request(self, kind: Msg, *fields: Any) -> Any:
        request_id = next(self._request_ids)
        self.send((kind, request_id, *fields))
        self.wait_until(lambda: request_id in self._replies)
        return self._replies.pop(request_id)

    def wait_until(self, ready: Any) -> None:
        """Block until ``ready()``; if no other thread is reading the socket, read it."""
        with self._cv:
            while not ready():
                if self._reading:
                    self._followers += 1
                    self._cv.wait()
                    self._followers -= 1
                    continue
                self._reading = True
                self._cv.release()
                try:
                    self.flush_refs()
                    messages = self.channel.read_spinning()  # the next call may be close
                    if messages == []:
                        messages = self.channel.recv()
                    if messages is None:
                        raise EOFError
                except (OSError, EOFError):
                    # The driver is gone or retired this worker on purpose: a clean end.
                    os._exit(0)
                finally:
                    self._cv.acquire()
                    self._reading = False
                    if self._followers:
                        self._cv.notify_all()
                self._handle(messages)

    def read_available(self) -> None:
        """Handle whatever already arrived, without blocking (used by the cancel signal)."""
        with self._cv:
            if self._reading:
                return
            messages = self.channel.read_some(block=False)
            if messages is None:
                os._exit(0)
            self._handle(messages)

    def _handle(self, messages: list[tuple[Any, ...]]) -> None:
        """Under ``_cv``: replies complete requests, everything else goes to the task loop."""
        for message in messages:
            if message[0] == Msg.REPLY:
                self._replies[message[1]] = message[2]
            else:
                self.on_message(message)
        if self._followers:
            self._cv.notify_all()
        cancel, self.pending_cancel = self.pending_cancel, None
        if cancel is not None:
            raise KeyboardInterrupt  # the running task was cancelled

    def _first_local_ref(self, object_id: int) -> None:
        self._ref_events.append((0, object_id))

    def _last_local_ref(self, object_id: int) -> None:
        self._ref_events.append((1, object_id))

    def unpin_later(self, object_id: int) -> None:
        self._ref_events.append((2, object_id))

    # -- values --------------------------------------------------------------------------
    def store_value(self, serialized: _serialization.Serialized) -> P.Payload:
        """Inline for small values; large buffers go to the arena (or a spill file)."""
        if serialized.buffer_bytes < INLINE_THRESHOLD:
            return P.inline(serialized)
        lengths = [b.nbytes for b in serialized.buffers]
        where, location = self.request(Msg.ALLOC, allocation_size(lengths))
        if where == "arena":
            self.arena.write(location, serialized.buffers)
            return (P.ARENA, serialized.header, location, lengths)
        if where == "file":
            write_file(location, serialized.buffers)
            return (P.FILE, serialized.header, location, lengths)
        raise location  # the store could not hold it: an ObjectStoreFullError

    def materialize(self, object_id: int, payload: P.Payload) -> Any:
        release = None
        if payload[0] == P.ARENA:
            release = lambda: self.unpin_later(object_id)
        return P.materialize(payload, self.arena, release)

    # -- Backend -------------------------------------------------------------------------
    def submit(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               options: TaskOptions) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        demand = options.resource_demand()
        if not fits(self.totals, demand):
            raise InfeasibleResourcesError(
                f"task {function.name!r} needs {demand} but the cluster has {self.totals} in "
                "total; lower its num_cpus/num_gpus/resources")
        serialized, ref_slots = split_args(args, kwargs)
        args_payload = self.store_value(serialized)
        shipped = function._shipped
        blob = None
        if shipped.function_id not in self._registered_functions:
            blob = shipped.blob()
            self._registered_functions.add(shipped.function_id)
        task_id = self.new_id()
        return_ids = [self.new_id() for _ in range(options.return_count)]
        self.send((Msg.SUBMIT, task_id, shipped.function_id, blob, args_payload, ref_slots,
                   serialized.contained_refs, return_ids, cloudpickle.dumps(options),
                   function.name, self.depth + 1))
        refs = [ObjectRef._make(rid, self, counted=True) for rid in return_ids]
        if options.streaming:
            return [ObjectRefGenerator._make(task_id, refs[0], self)]
        return refs[:int(options.num_returns)]

    # -- actors, placement groups, streams ---------------------------------------------
    def _class_blob(self, shipped: _Shipped) -> bytes | None:
        if shipped.function_id in self._registered_functions:
            return None
        self._registered_functions.add(shipped.function_id)
        return shipped.blob()

    def create_actor(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: Any) -> Any:
        serialized, ref_slots = split_args(args, kwargs)
        shipped = actor_class._shipped
        status, value = self.request(
            Msg.ACTOR_CREATE, shipped.function_id, self._class_blob(shipped),
            self.store_value(serialized), ref_slots, serialized.contained_refs,
            cloudpickle.dumps(options), actor_class.__name__, actor_class._methods,
            actor_class.is_async)
        if status == "error":
            raise value
        return self._actor_handle(value)

    def _actor_handle(self, info: tuple[int, str, dict[str, MethodInfo], int]) -> Any:
        actor_id, class_name, methods, handle_id = info
        keepalive = ObjectRef._make(handle_id, self, counted=True)
        return ActorHandle._make(actor_id, class_name, methods, keepalive)

    def call_actor(self, handle: Any, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], num_returns: Any) -> Any:
        serialized, ref_slots = split_args(args, kwargs)
        streaming = num_returns == "streaming"
        task_id = self.new_id()
        return_ids = [self.new_id() for _ in range(1 if streaming else max(num_returns, 1))]
        self.send((Msg.ACTOR_SUBMIT, task_id, handle._actor_id, method,
                   self.store_value(serialized), ref_slots, serialized.contained_refs,
                   return_ids, num_returns))
        refs = [ObjectRef._make(rid, self, counted=True) for rid in return_ids]
        if streaming:
            return ObjectRefGenerator._make(task_id, refs[0], self)
        return refs[:num_returns]

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        self.send((Msg.ACTOR_KILL, handle._actor_id, no_restart))

    def get_actor(self, name: str, namespace: str | None) -> Any:
        status, value = self.request(Msg.ACTOR_LOOKUP, name, namespace)
        if status == "error":
            raise value
        return self._actor_handle(value)

    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> Any:
        status, value = self.request(Msg.GROUP_CREATE, bundles, strategy, name)
        if status == "error":
            raise value
        group_id, ready_id = value
        ready = ObjectRef._make(ready_id, self, counted=True)
        return PlacementGroup._make(group_id, bundles, strategy, name, ready)

    def remove_placement_group(self, group: Any) -> None:
        self.send((Msg.GROUP_REMOVE, group.id))

    def stream_next(self, task_id: int, index: int, timeout: float | None) -> ObjectRef[Any]:
        status, value = self.request(Msg.STREAM_NEXT, task_id, index, timeout)
        if status == "item":
            return ObjectRef._make(value, self, counted=True)
        if status == "end":
            raise StopIteration
        if status == "timeout":
            raise GetTimeoutError(f"no new item from the stream within {timeout}s")
        raise P.error_from(value)

    def stream_release(self, task_id: int) -> None:
        self.send((Msg.STREAM_RELEASE, task_id))

    def register_known_function(self, function_id: int) -> None:
        self._registered_functions.add(function_id)

    def put(self, value: Any) -> ObjectRef[Any]:
        serialized = _serialization.dumps(value)
        payload = self.store_value(serialized)
        object_id = self.new_id()
        self.send((Msg.PUT, object_id, payload, serialized.contained_refs))
        return ObjectRef._make(object_id, self, counted=True)

    def get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]:
        ids = [ref._id for ref in refs]
        returned = self.enter_blocking()
        try:
            status, payloads = self.request(Msg.GET, ids, timeout, returned)
        finally:
            self.leave_blocking()
        if status == "timeout":
            raise GetTimeoutError(
                f"get timed out after {timeout}s waiting for {len(ids)} object(s)")
        values = []
        for object_id, payload in zip(ids, payloads):
            values.append(self.materialize(object_id, payload))
        return values

    def wait(self, refs: list[ObjectRef[Any]], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
        returned = self.enter_blocking()
        try:
            ready_ids = set(self.request(
                Msg.WAIT, [r._id for r in refs], num_returns, timeout, returned))
        finally:
            self.leave_blocking()
        ready = [r for r in refs if r._id in ready_ids][:num_returns]
        chosen = {r._id for r in ready}
        return ready, [r for r in refs if r._id not in chosen]

    def cancel(self, ref: ObjectRef[Any], force: bool) -> None:
        self.send((Msg.CANCEL_REF, ref._id, force))

    def as_concurrent_future(self, ref: ObjectRef[Any]) -> Any:
        import concurrent.futures

        # A helper thread waits for the value; it reads the socket itself if the
        # main thread is busy running user code.
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def fetch() -> None:
            try:
                future.set_result(self.get([ref], None)[0])
            except BaseException as error:  # noqa: BLE001 - delivered to the awaiting caller
                future.set_exception(error)
        threading.Thread(target=fetch, daemon=True).start()
        return future

    def cluster_resources(self) -> dict[str, float]:
        resources: dict[str, float] = self.request(Msg.INFO, "cluster_resources")
        return resources

    def available_resources(self) -> dict[str, float]:
        resources: dict[str, float] = self.request(Msg.INFO, "available_resources")
        return resources

    def timeline_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.request(Msg.INFO, "timeline")
        return events

    def kv_put(self, key: str, value: bytes | None) -> None:
        self.request(Msg.INFO, "kv_put", key, value)

    def kv_get(self, key: str) -> bytes | None:
        value: bytes | None = self.request(Msg.INFO, "kv_get", key)
        return value

    def is_alive(self) -> bool:
        return True

    def shutdown(self) -> None:
        """Inside a worker, shutdown is the driver's business; nothing to do."""
