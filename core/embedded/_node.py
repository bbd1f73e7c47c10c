"""The embedded engine's node: the driver process hosts scheduler, object store and
worker pool on background threads. No daemon, nothing to install.

    user threads ── submit/put/get/wait ──┐
                                          ▼  (one lock)
                      Scheduler + ObjectStore + task table
                                          ▲
    I/O thread ── worker messages ────────┘──> EXEC to workers (see _node_io)

Tasks submitted by workers take the same path as the driver's own.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from .. import _last_trace, _serialization
from .._backend import LocalRefCounts
from .._env import make_spill_dir, wait_warning_s
from .._generator import ObjectRefGenerator
from .._log import logger
from .._object_ref import ObjectRef
from .._options import InitOptions, TaskOptions
from .._task_args import split_args
from ..exceptions import EmberError, GetTimeoutError
from . import _payload as P
from ._actors import ActorDirectory
from ._arena import Arena
from ._latch import Latch
from ._log_forwarder import LogForwarder
from ._node_actors import NodeActors
from ._node_calls import NodeCalls
from ._object_store import INLINE_THRESHOLD, ObjectStore
from ._protocol import Channel
from ._scheduler import Scheduler, Task, WorkerSlot
from ._streams import Streams
from ._waits import WaitWatch
from ._waits import collect as collect_waits
from ._worker_pool import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Sequence

_WAIT_CHECK_S = 1.0


def default_object_store_memory() -> int:
    """30% of the machine's memory, as Ray does; pages are only used once written."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(total * 0.3) // 4096 * 4096


class Node(LocalRefCounts):
    """The embedded engine; implements the Backend protocol for the driver."""

    def __init__(self, options: InitOptions):
        super().__init__()
        cpus = float(options.num_cpus if options.num_cpus is not None else os.cpu_count() or 1)
        totals = {"CPU": cpus, "GPU": float(options.num_gpus or 0)}
        totals.update({k: float(v) for k, v in options.resources.items()})
        self.options = options
        self.capacity = options.object_store_memory or default_object_store_memory()
        self.lock = threading.RLock()
        self.spill_dir = make_spill_dir()  # first: a bad EMBER_SPILL_DIR fails before any memory is taken
        self.arena = Arena.create(self.capacity)
        self.store = ObjectStore(self.arena, self.spill_dir)
        self.scheduler = Scheduler(totals, max_idle_workers=max(1, int(cpus)))
        self.pool = WorkerPool(self.arena.fd, self.capacity, self.spill_dir)
        self.logs = LogForwarder() if options.log_to_driver else None
        self.functions: dict[int, bytes] = {}
        self.tasks_by_return: dict[int, Task] = {}
        # (name, task id, worker index, worker pid, start, end) of each finished task
        self.timeline: collections.deque[tuple[str, int, int, int | None, float, float]] = \
            collections.deque(maxlen=100_000)
        self.kv: dict[str, bytes] = {}  # internal key-value store (e.g. serve's controller state)
        self.ref_events: collections.deque[tuple[int, int]] = collections.deque()
        self.after_lock: list[Any] = []
        self._ids = itertools.count(1)
        self._worker_indices = itertools.count(1)
        self.alive = True
        self.started_at = time.time()
        self.namespace = options.namespace or "default"
        self.actors = ActorDirectory(self)
        self.extras = NodeActors(self)
        self.streams = Streams(self)
        self.calls = NodeCalls(self)
        from ._node_io import NodeIO

        self.io = NodeIO(self)
        self.waits = WaitWatch(wait_warning_s())
        self.io.add_timer(_WAIT_CHECK_S, self._check_waits)
        self.io.start()
        atexit.register(self.shutdown)

    def _check_waits(self) -> None:
        """Warn once about anything stuck behind actors or placement groups (a timer of
        the I/O thread, under the lock; the warnings are logged after it)."""
        if not self.alive:
            return
        waiters, holders = collect_waits(self.scheduler, self.extras.groups)
        for message in self.waits.check(time.monotonic(), waiters, holders,
                                        self.scheduler.total):
            self.after_lock.append(lambda message=message: logger.warning(message))
        self.io.add_timer(_WAIT_CHECK_S, self._check_waits)

    # -- ids, workers, references ---------------------------------------------------------
    def new_id(self) -> int:
        return next(self._ids)

    def spawn_worker(self) -> WorkerSlot:
        index = next(self._worker_indices)
        sock = self.pool.spawn(index, {"totals": dict(self.scheduler.total)},
                               self.logs.new_pipes() if self.logs is not None else None)
        worker = WorkerSlot(index, channel=Channel(sock))
        self.scheduler.workers[index] = worker
        self.io.watch(worker)
        return worker

    def _first_local_ref(self, object_id: int) -> None:
        self._queue_ref_event(0, object_id)

    def _last_local_ref(self, object_id: int) -> None:
        self._queue_ref_event(1, object_id)

    def _queue_ref_event(self, kind: int, object_id: int) -> None:
        # Runs in any thread, even inside garbage collection: queue, never lock. The
        # next API call or the I/O thread's next tick (at most REF_TICK_S) applies it.
        self.ref_events.append((kind, object_id))

    def drain_ref_events(self) -> None:
        """Apply this process's queued incref/decref/unpin, in order (under the lock)."""
        store, events = self.store, self.ref_events
        while events:
            kind, object_id = events.popleft()
            if kind == 0:
                store.incref(object_id)
            elif kind == 1:
                store.decref(object_id)
            else:
                store.unpin(object_id)

    # -- Backend: tasks -------------------------------------------------------------------
    def submit(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               options: TaskOptions) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        self._check_alive()
        demand = options.resource_demand()
        serialized, ref_slots = split_args(args, kwargs)
        shipped = function._shipped
        blob = self.functions.get(shipped.function_id) or shipped.blob()
        with self.lock:
            self.drain_ref_events()
            pool = self.extras.pool_of(options, demand, f"task {function.name!r}")
            self.functions[shipped.function_id] = blob
            task = Task(
                task_id=self.new_id(), function_id=shipped.function_id, name=function.name,
                args_payload=self.args_payload(serialized), ref_args=ref_slots,
                held_ids=[], return_ids=[self.new_id() for _ in range(options.return_count)],
                demand=demand, max_retries=options.max_retries,
                retry_exceptions=options.retry_exceptions, depth=0, submitter=0, pool=pool,
                streaming=options.streaming,
                backpressure=options.generator_backpressure_num_objects)
            self.admit(task, serialized.contained_refs, holder=None)
            self.io.dispatch()
        refs = [ObjectRef._make(rid, self, counted=True) for rid in task.return_ids]
        if task.streaming:
            return [ObjectRefGenerator._make(task.task_id, refs[0], self)]
        return refs[:int(options.num_returns)]

    def args_payload(self, serialized: _serialization.Serialized) -> tuple[int | None, P.Payload]:
        """Small arguments ride in the task message; large ones become a hidden object."""
        if serialized.buffer_bytes < INLINE_THRESHOLD:
            return (None, P.inline(serialized))
        object_id = self.new_id()
        self.store.create(object_id)  # held by the task until it finishes
        payload = self.store.put_buffers(serialized.header, serialized.buffers)
        self.store.seal(object_id, payload)  # a new id: sealing stores this very payload
        return (object_id, payload)

    def release_arguments(self, args_payload: tuple[int | None, P.Payload]) -> None:
        if args_payload[0] is not None:
            self.store.decref(args_payload[0])

    def admit(self, task: Task, nested: list[int], holder: WorkerSlot | None) -> None:
        """Register a new task or actor call: its results, the refs it keeps alive, its
        dependencies; it runs once they exist."""
        for return_id in task.return_ids:
            self.store.create(return_id)
            self.tasks_by_return[return_id] = task
            if holder is not None:
                holder.held[return_id] += 1
        if task.streaming:
            self.streams.open(task)
        self.hold_arguments(task, nested)
        if task.actor is not None:
            # Queued first (order is per submission); sent once its arguments exist.
            self.await_dependencies(task, lambda t: self.actors.pump(t.actor), now=False)
            self.actors.enqueue(task.actor, task)
        else:
            self.await_dependencies(task, self.enqueue)

    def hold_arguments(self, task: Task, nested: list[int]) -> None:
        """Keep the task's argument objects alive until it is done with them."""
        if task.args_payload[0] is not None:
            task.held_ids.append(task.args_payload[0])  # created with the task's count
        for _, object_id in task.ref_args:
            self.store.incref(object_id)
            task.held_ids.append(object_id)
        for object_id in nested:
            self.store.incref(object_id)
            task.held_ids.append(object_id)

    def await_dependencies(self, task: Task, then: Any, now: bool = True) -> None:
        """Call ``then(task)`` once every top-level ref argument exists (at once if they
        all do and ``now``)."""
        if not task.ref_args:
            if now:
                then(task)
            return
        unready = {oid for _, oid in task.ref_args if not self.store.is_ready(oid)}
        task.pending_deps = len(unready)

        def one_ready() -> None:
            task.pending_deps -= 1
            if task.pending_deps == 0 and not task.finished:
                then(task)

        for object_id in unready:
            self.store.on_ready(object_id, one_ready)
        if not unready and now:
            then(task)

    def failed_dependency(self, task: Task) -> P.Payload | None:
        """The error of the first argument whose producing task failed, if any."""
        for _, object_id in task.ref_args:
            entry = self.store.entries.get(object_id)
            if entry is not None and entry.payload is not None and entry.payload[0] == P.ERROR:
                return entry.payload
        return None

    def enqueue(self, task: Task) -> None:
        """Queue a task whose inputs exist; a failed input fails it without running."""
        failed = self.failed_dependency(task)
        if failed is not None:
            self.complete(task, [failed] * len(task.return_ids), ())
            return
        self.scheduler.push(task)

    def complete(self, task: Task, payloads: list[P.Payload], contained: Any) -> None:
        """Seal a task's results (values or errors) and release what it held."""
        if task.finished:
            return
        task.finished = True
        if task.streaming:
            self.streams.finish(task, payloads[0])
        for index, (return_id, payload) in enumerate(zip(task.return_ids, payloads)):
            self.store.seal(return_id, payload, contained[index] if contained else ())
            if self.tasks_by_return.get(return_id) is task:
                del self.tasks_by_return[return_id]
        for object_id in task.held_ids:
            self.store.decref(object_id)
        task.held_ids = []

    # -- Backend: objects ---------------------------------------------------------------
    def put(self, value: Any) -> ObjectRef[Any]:
        self._check_alive()
        serialized = _serialization.dumps(value)
        with self.lock:
            self.drain_ref_events()
            object_id = self.new_id()
            self.store.create(object_id)
            if serialized.buffer_bytes < INLINE_THRESHOLD:
                payload = P.inline(serialized)
            else:
                payload = self.store.put_buffers(serialized.header, serialized.buffers)
            self.store.seal(object_id, payload, serialized.contained_refs)
        return ObjectRef._make(object_id, self, counted=True)

    def get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]:
        ids = [self._own_id(ref) for ref in refs]
        latch = None
        producer = None
        with self.lock:
            self.drain_ref_events()
            waiting = {oid for oid in ids if not self.store.is_ready(oid)}
            if waiting:
                self.io.flush()  # deferred calls may be what we wait for
                latch = Latch(len(waiting), self.after_lock)
                for object_id in waiting:
                    self.store.on_ready(object_id, latch.count_down)
                producer = self.io.claim_producer(waiting)
        if producer is not None:
            self.io.read_directly(producer, latch, timeout)
        if latch is not None and not latch.wait(timeout):
            raise GetTimeoutError(
                f"ember.get timed out after {timeout}s; {latch.remaining} of {len(ids)} "
                "object(s) were not ready. Raise timeout=, or use ember.wait to poll")
        with self.lock:
            payloads = [self.store.payload_for_read(oid) for oid in ids]
            for payload in payloads:
                if payload[0] == P.ERROR:
                    raise P.error_from(payload)
            for object_id, payload in zip(ids, payloads):
                if payload[0] == P.ARENA:
                    self.store.pin(object_id)
        return [self.materialize(oid, payload) for oid, payload in zip(ids, payloads)]

    def materialize(self, object_id: int, payload: P.Payload) -> Any:
        release = None
        if payload[0] == P.ARENA:
            release = lambda: self._queue_ref_event(2, object_id)
        return P.materialize(payload, self.arena, release)

    def wait(self, refs: list[ObjectRef[Any]], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
        ids = [self._own_id(ref) for ref in refs]
        with self.lock:
            self.drain_ref_events()
            ready = [oid for oid in ids if self.store.is_ready(oid)]
            latch = None
            self.io.flush()
            if len(ready) < num_returns and timeout != 0:
                latch = Latch(num_returns - len(ready), self.after_lock)
                for object_id in {oid for oid in ids if not self.store.is_ready(oid)}:
                    self.store.on_ready(object_id, latch.count_down)
        if latch is not None:
            latch.wait(timeout)
            with self.lock:
                ready = [oid for oid in ids if self.store.is_ready(oid)]
        chosen = set(ready[:num_returns])
        return ([r for r in refs if r._id in chosen][:num_returns],
                [r for r in refs if r._id not in chosen])

    def as_concurrent_future(self, ref: ObjectRef[Any]) -> Any:
        import concurrent.futures

        object_id = self._own_id(ref)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def resolve() -> None:
            try:
                future.set_result(self.get([ref], None)[0])
            except BaseException as error:  # noqa: BLE001 - delivered to whoever awaits the future
                future.set_exception(error)

        with self.lock:
            pending = self.store.on_ready(object_id, lambda: self.after_lock.append(resolve))
        if not pending:
            resolve()
        return future

    def cancel(self, ref: ObjectRef[Any], force: bool) -> None:
        object_id = self._own_id(ref)
        with self.lock:
            self.io.handlers.cancel(object_id, force)
            callbacks = self.take_after_lock()
        for callback in callbacks:
            callback()

    def take_after_lock(self) -> list[Any]:
        """Wake-ups queued under the lock, to run once it is released (list kept in place:
        latches hold a reference to it)."""
        callbacks = self.after_lock[:]
        self.after_lock.clear()
        return callbacks

    # -- Backend: actors, placement groups and streams (see _node_calls) ---------------------
    def create_actor(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: Any) -> Any:
        return self.calls.create_actor(actor_class, args, kwargs, options)

    def call_actor(self, handle: Any, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], num_returns: Any) -> Any:
        return self.calls.call_actor(handle, method, args, kwargs, num_returns)

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        self.calls.kill_actor(handle, no_restart)

    def get_actor(self, name: str, namespace: str | None) -> Any:
        return self.calls.get_actor(name, namespace)

    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> Any:
        return self.calls.placement_group(bundles, strategy, name)

    def remove_placement_group(self, group: Any) -> None:
        self.calls.remove_placement_group(group)

    def stream_next(self, task_id: int, index: int, timeout: float | None) -> ObjectRef[Any]:
        return self.calls.stream_next(task_id, index, timeout)

    def stream_release(self, task_id: int) -> None:
        self.calls.stream_release(task_id)

    # -- Backend: info and lifecycle -------------------------------------------------------
    def cluster_resources(self) -> dict[str, float]:
        totals = {k: v for k, v in self.scheduler.total.items() if v or k == "CPU"}
        return {**totals, "object_store_memory": float(self.capacity)}

    def available_resources(self) -> dict[str, float]:
        with self.lock:
            self.drain_ref_events()
            free = {k: max(0.0, v) for k, v in self.scheduler.available.items()
                    if self.scheduler.total.get(k) or k == "CPU"}
            free["object_store_memory"] = float(self.capacity - self.store.allocator.used_bytes)
        return free

    def kv_put(self, key: str, value: bytes | None) -> None:
        if value is None:
            self.kv.pop(key, None)
        else:
            self.kv[key] = value

    def kv_get(self, key: str) -> bytes | None:
        return self.kv.get(key)

    def timeline_events(self) -> list[dict[str, Any]]:
        """Finished tasks as Chrome trace "complete" events (one row per worker)."""
        with self.lock:
            records = list(self.timeline)
        return [{"name": name, "cat": "task", "ph": "X", "ts": start * 1e6,
                 "dur": max(0.0, end - start) * 1e6, "pid": "ember",
                 "tid": f"worker {index} (pid {pid})", "args": {"task_id": f"{task_id:x}"}}
                for name, task_id, index, pid, start, end in records]

    def store_stats(self) -> dict[str, int]:
        with self.lock:
            self.drain_ref_events()
            return self.store.stats()

    def worker_pids(self) -> list[int]:
        with self.lock:
            return [w.pid for w in self.scheduler.workers.values() if w.pid]

    def is_alive(self) -> bool:
        return self.alive

    def _check_alive(self) -> None:
        if not self.alive:
            raise EmberError("this Ember session has been shut down; call ember.init() again")

    def _own_id(self, ref: ObjectRef[Any]) -> int:
        if ref._runtime is not self or not self.alive:
            from .._context import stale_ref_error

            raise stale_ref_error(ref)
        return ref._id

    def shutdown(self) -> None:
        with self.lock:
            if not self.alive:
                return
            self.alive = False
        atexit.unregister(self.shutdown)
        _last_trace.save(self.timeline_events(), "local")  # for `ember timeline`
        self.io.stop()  # first: nothing may read the sockets being closed below
        self.pool.close()
        if self.logs is not None:
            self.logs.close()  # after the workers: their last lines are printed
        for worker in list(self.scheduler.workers.values()):
            worker.channel.close()
        self.arena.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)


