"""What the node does with each message from a worker (run under the node lock)."""

from __future__ import annotations

import os
import pickle
import signal
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cloudpickle  # type: ignore[import-untyped]

from .._remote_error import RemoteError
from . import _payload as P
from ._protocol import Msg
from ._scheduler import Task, WorkerSlot
from ._worker import CANCEL_SIGNAL

if TYPE_CHECKING:
    from .._actor import MethodInfo
    from ._node import Node
    from ._node_io import NodeIO


class MessageHandlers:
    def __init__(self, node: Node, io: NodeIO):
        self.node = node
        self.io = io
        self._table: dict[Msg, Callable[..., object]] = {
            Msg.DONE: self._on_done, Msg.DONE_MANY: self._on_done_many, Msg.REFS: self._on_refs, Msg.SUBMIT: self._on_submit,
            Msg.PUT: self._on_put, Msg.GET: self._on_get, Msg.WAIT: self._on_wait,
            Msg.ALLOC: self._on_alloc, Msg.INFO: self._on_info, Msg.RETURN: self._take_back,
            Msg.CANCEL_REF: lambda worker, object_id, force: self.cancel(object_id, force),
            Msg.ITEM: self._on_item, Msg.ACTOR_CREATE: self._on_actor_create,
            Msg.ACTOR_SUBMIT: self._on_actor_submit, Msg.ACTOR_KILL: self._on_actor_kill,
            Msg.ACTOR_LOOKUP: self._on_actor_lookup, Msg.STREAM_NEXT: self._on_stream_next,
            Msg.STREAM_RELEASE: lambda worker, task_id: self.node.streams.release(task_id),
            Msg.GROUP_CREATE: self._on_group_create, Msg.ACTOR_EXIT: self._on_actor_exit,
            Msg.GROUP_REMOVE: lambda worker, group_id: self.node.extras.remove_group(group_id),
        }

    # -- messages -----------------------------------------------------------------------
    def handle(self, worker: WorkerSlot, message: tuple[Any, ...]) -> None:
        self._table[message[0]](worker, *message[1:])

    def _reply(self, worker: WorkerSlot, request_id: int, value: Any) -> None:
        if worker.alive:
            self.io.send(worker, [(Msg.REPLY, request_id, value)])

    def _on_done_many(self, worker: WorkerSlot, batch: list[tuple[Any, ...]]) -> None:
        for done in batch:
            self._on_done(worker, *done)

    def _on_done(self, worker: WorkerSlot, task_id: int, results: Any,
                 start: float, end: float) -> None:
        node = self.node
        task = worker.inflight.get(task_id)
        if task is None:
            return
        if worker.blocked and worker.actor is None and next(iter(worker.inflight)) == task_id:
            # A task worker runs one task at a time: its waits were that task's, and it
            # finished (e.g. cancelled) while in get. An actor's waits may come from any of
            # its threads, so one of its calls ending says nothing about them.
            self._abandon_waits(worker)
        node.scheduler.finish(worker, task)
        node.timeline.append((task.name, task.task_id, worker.index, worker.pid, start, end))
        if task.creates_actor:
            node.actors.created(task.actor, worker, results if isinstance(results, tuple) else None)
            node.complete(task, [], ())
            return
        if isinstance(results, tuple):  # one ERROR payload for every return
            if task.actor is None and self._should_retry_error(task, results):
                task.retries_used += 1
                node.scheduler.push(task)
                return
            node.complete(task, [results] * len(task.return_ids), ())
            return
        payloads = [payload for payload, _ in results]
        for payload in payloads:
            if payload[0] == P.ARENA:
                worker.allocs.discard(payload[2])
        node.complete(task, payloads, [contained for _, contained in results])

    def _should_retry_error(self, task: Task, payload: P.Payload) -> bool:
        if task.cancelled or not task.retry_exceptions:
            return False
        if task.max_retries != -1 and task.retries_used >= task.max_retries:
            return False
        record = pickle.loads(payload[1])
        if not isinstance(record, RemoteError):
            return False
        if task.retry_exceptions is True:
            return True
        error = record.to_exception()
        return isinstance(error, task.retry_exceptions)

    def _on_refs(self, worker: WorkerSlot, increfs: list[int], decrefs: list[int],
                 unpins: list[int]) -> None:
        store = self.node.store
        for object_id in increfs:
            store.incref(object_id)
            worker.held[object_id] += 1
        for object_id in decrefs:
            if _take_one(worker.held, object_id):
                store.decref(object_id)
        for object_id in unpins:
            if _take_one(worker.pins, object_id):
                store.unpin(object_id)

    def _on_submit(self, worker: WorkerSlot, task_id: int, function_id: int,
                   blob: bytes | None, args_payload: P.Payload, ref_slots: list[tuple[Any, int]],
                   nested: list[int], return_ids: list[int], options_blob: bytes,
                   name: str, depth: int) -> None:
        node = self.node
        options = cloudpickle.loads(options_blob)
        if blob is not None:
            node.functions.setdefault(function_id, blob)
        args = self._adopt_arguments(worker, args_payload)
        try:
            pool = node.extras.pool_of(options, options.resource_demand(), f"task {name!r}")
        except Exception as error:  # noqa: BLE001 - e.g. a removed placement group: whatever
            # makes the task unplaceable, its results raise it
            node.release_arguments(args)
            self._fail_results(worker, return_ids, error)
            return
        task = Task(
            task_id=task_id, function_id=function_id, name=name,
            args_payload=args, ref_args=ref_slots, held_ids=[],
            return_ids=return_ids, demand=options.resource_demand(),
            max_retries=options.max_retries, retry_exceptions=options.retry_exceptions,
            depth=depth, submitter=worker.index, pool=pool, streaming=options.streaming,
            backpressure=options.generator_backpressure_num_objects)
        node.admit(task, nested, holder=worker)

    def _fail_results(self, worker: WorkerSlot, return_ids: list[int],
                      error: BaseException) -> None:
        """A call refused before it ran: its results (held by the caller) raise ``error``."""
        for return_id in return_ids:
            self.node.store.create(return_id)
            worker.held[return_id] += 1
            self.node.store.seal(return_id, P.error(error))

    def _on_put(self, worker: WorkerSlot, object_id: int, payload: P.Payload,
                contained: list[int]) -> None:
        store = self.node.store
        store.create(object_id)
        worker.held[object_id] += 1
        if payload[0] == P.ARENA:
            worker.allocs.discard(payload[2])
        store.seal(object_id, payload, contained)

    def _on_alloc(self, worker: WorkerSlot, request_id: int, size: int) -> None:
        store = self.node.store
        try:
            offset = store.allocate(size)
        except Exception as error:  # noqa: BLE001 - e.g. spilling failed: the worker raises
            # it; whatever it is, the I/O thread must not die of it
            self._reply(worker, request_id, ("error", error))
            return
        if offset is None:
            self._reply(worker, request_id, ("file", store.new_spill_path()))
            return
        worker.allocs.add(offset)
        self._reply(worker, request_id, ("arena", offset))

    def _on_get(self, worker: WorkerSlot, request_id: int, ids: list[int],
                timeout: float | None, returned: list[int]) -> None:
        self._take_back(worker, returned)
        self._when_ready(worker, ids, len(set(ids)), timeout,
                         lambda: self._reply_get(worker, request_id, ids),
                         lambda: self._reply(worker, request_id, ("timeout", None)))

    def _take_back(self, worker: WorkerSlot, task_ids: list[int]) -> None:
        """Tasks queued behind one that blocked in ``get``: run them elsewhere."""
        for task_id in task_ids:
            task = worker.inflight.pop(task_id, None)
            if task is not None:
                task.worker = None
                self.node.scheduler.push(task, keep_order=True)

    def _reply_get(self, worker: WorkerSlot, request_id: int, ids: list[int]) -> None:
        try:
            payloads = [self.io.payload_for(worker, oid) for oid in ids]
        except Exception as error:  # noqa: BLE001 - an object was lost (or could not be
            # restored from its spill file): the worker's get raises it; whatever it is,
            # the I/O thread must not die of it
            payloads = [P.error(error)] * len(ids)
        self._reply(worker, request_id, ("ok", payloads))

    def _on_wait(self, worker: WorkerSlot, request_id: int, ids: list[int],
                 num_returns: int, timeout: float | None, returned: list[int]) -> None:
        store = self.node.store
        self._take_back(worker, returned)

        def answer() -> None:
            self._reply(worker, request_id, [oid for oid in ids if store.is_ready(oid)])
        self._when_ready(worker, ids, num_returns, timeout, answer, answer)

    def _when_ready(self, worker: WorkerSlot, ids: list[int], count: int,
                    timeout: float | None, on_ready: Any, on_timeout: Any) -> None:
        """Call ``on_ready`` once ``count`` of ``ids`` exist; the worker's CPU is lent
        to other tasks meanwhile."""
        node = self.node
        store = node.store
        unready = {oid for oid in ids if not store.is_ready(oid)}
        needed = count - (len(set(ids)) - len(unready))
        if needed <= 0 or timeout == 0:
            (on_ready if needed <= 0 else on_timeout)()
            return
        node.scheduler.block(worker)
        state = {"needed": needed, "done": False}
        key = object()
        worker.requests[key] = state

        def finish(callback: Any) -> None:
            if state["done"]:
                return
            state["done"] = True
            worker.requests.pop(key, None)
            if worker.alive:
                node.scheduler.unblock(worker)
            callback()

        def one_ready() -> None:
            state["needed"] -= 1
            if state["needed"] <= 0:
                finish(on_ready)

        for object_id in unready:
            store.on_ready(object_id, one_ready)
        if timeout is not None:
            self.io.add_timer(timeout, lambda: finish(on_timeout))

    # -- streams, actors and placement groups from workers ----------------------------------
    def _on_item(self, worker: WorkerSlot, task_id: int, object_id: int, payload: P.Payload,
                 contained: list[int]) -> None:
        if payload[0] == P.ARENA:
            worker.allocs.discard(payload[2])
        self.node.streams.item(task_id, object_id, payload, contained)

    def _on_stream_next(self, worker: WorkerSlot, request_id: int, task_id: int, index: int,
                        timeout: float | None) -> None:
        streams = self.node.streams
        state = {"answered": False}

        def attempt() -> None:
            if state["answered"]:
                return
            status, value = streams.poll(task_id, index, worker)
            if status == "wait":
                streams.on_change(task_id, attempt)
                return
            state["answered"] = True
            self._reply(worker, request_id, (status, value))

        def expire() -> None:
            if not state["answered"]:
                state["answered"] = True
                self._reply(worker, request_id, ("timeout", None))

        attempt()
        if timeout is not None and not state["answered"]:
            self.io.add_timer(timeout, expire)

    def _on_actor_create(self, worker: WorkerSlot, request_id: int, class_id: int,
                         blob: bytes | None, args_payload: P.Payload,
                         ref_slots: list[tuple[Any, int]], nested: list[int], options_blob: bytes,
                         class_name: str, methods: dict[str, MethodInfo],
                         is_async: bool) -> None:
        node = self.node
        args = self._adopt_arguments(worker, args_payload)
        try:
            options = cloudpickle.loads(options_blob)
            actor_id, handle_id, existed = node.extras.create(
                class_id, blob or node.functions[class_id], class_name, methods, is_async,
                options, args, ref_slots, nested, holder=worker)
        except Exception as error:  # noqa: BLE001 - unpickling the options or creating the
            # actor may fail in any way: reported to the creating task, which raises it
            node.release_arguments(args)
            self._reply(worker, request_id, ("error", error))
            return
        if existed:
            node.release_arguments(args)
        record = node.actors.actors[actor_id]
        self._reply(worker, request_id,
                    ("ok", (actor_id, record.class_name, record.methods, handle_id)))

    def _adopt_arguments(self, worker: WorkerSlot,
                         args_payload: P.Payload) -> tuple[int | None, P.Payload]:
        """Turn a worker's argument payload into (hidden object id or None, payload)."""
        if args_payload[0] == P.INLINE:
            return (None, args_payload)
        args_id = self.node.new_id()
        self.node.store.create(args_id)
        self.node.store.seal(args_id, args_payload)
        if args_payload[0] == P.ARENA:
            worker.allocs.discard(args_payload[2])
        return (args_id, args_payload)

    def _on_actor_submit(self, worker: WorkerSlot, task_id: int, actor_id: int, method: str,
                         args_payload: P.Payload, ref_slots: list[tuple[Any, int]],
                         nested: list[int], return_ids: list[int], num_returns: Any) -> None:
        node = self.node
        args = self._adopt_arguments(worker, args_payload)
        try:
            node.extras.call(actor_id, method, args, ref_slots, nested, return_ids,
                             num_returns, task_id, holder=worker)
        except Exception as error:  # noqa: BLE001 - e.g. an unknown actor, or queueing the
            # call failed: its results raise the error
            node.release_arguments(args)
            self._fail_results(worker, return_ids, error)

    def _on_actor_kill(self, worker: WorkerSlot, actor_id: int, no_restart: bool) -> None:
        self.node.extras.kill(actor_id, no_restart)

    def _on_actor_lookup(self, worker: WorkerSlot, request_id: int, name: str,
                         namespace: str | None) -> None:
        try:
            record = self.node.extras.lookup(name, namespace, holder=worker)
        except ValueError as error:
            self._reply(worker, request_id, ("error", error))
            return
        self._reply(worker, request_id, (
            "ok", (record.actor_id, record.class_name, record.methods, record.handle_id)))

    def _on_group_create(self, worker: WorkerSlot, request_id: int,
                         bundles: list[dict[str, float]],
                         strategy: str, name: str | None) -> None:
        node = self.node
        try:
            group_id, ready_id = node.extras.create_group(bundles, strategy, name)
        except Exception as error:  # noqa: BLE001 - e.g. infeasible, or reserving waiting
            # groups failed: the caller raises it
            self._reply(worker, request_id, ("error", error))
            return
        node.store.incref(ready_id)
        worker.held[ready_id] += 1
        self._reply(worker, request_id, ("ok", (group_id, ready_id)))

    def _abandon_waits(self, worker: WorkerSlot) -> None:
        for state in worker.requests.values():
            if not state["done"]:
                state["done"] = True
                self.node.scheduler.unblock(worker)
        worker.requests.clear()

    def _on_info(self, worker: WorkerSlot, request_id: int, what: str, *args: Any) -> None:
        node = self.node
        answers: dict[str, Callable[..., Any]] = {
            "cluster_resources": node.cluster_resources,
            "available_resources": node.available_resources,
            "timeline": node.timeline_events,
            "kv_put": node.kv_put,
            "kv_get": node.kv_get,
        }
        self._reply(worker, request_id, answers[what](*args))

    def _on_actor_exit(self, worker: WorkerSlot, task_id: int, reason: str) -> None:
        if worker.actor is not None:
            self.node.actors.exited(worker.actor, worker, reason)

    # -- cancellation -------------------------------------------------------------------
    def cancel(self, object_id: int, force: bool) -> None:
        node = self.node
        task = node.tasks_by_return.get(object_id)
        if task is None or task.finished:
            return
        task.cancelled = True
        worker = task.worker
        if worker is None:
            node.complete(task, [P.cancelled()] * len(task.return_ids), ())
        elif force:
            task.force_cancelled = True
            if worker.pid:
                node.pool.kill(worker.pid, signal.SIGKILL)
            else:
                worker.kill_when_spawned = True
        else:
            try:
                self.io.send(worker, [(Msg.CANCEL, task.task_id)])
                if worker.pid:
                    os.kill(worker.pid, CANCEL_SIGNAL)  # interrupts user code, even a sleep
                else:
                    worker.signal_when_spawned = CANCEL_SIGNAL
            except (OSError, ProcessLookupError):
                pass


def _take_one(counts: Counter[int], object_id: int) -> bool:
    """Decrement a per-worker count; False if the worker did not hold one."""
    if counts[object_id] <= 0:
        return False
    counts[object_id] -= 1
    if not counts[object_id]:
        del counts[object_id]
    return True
