"""The node's I/O thread: read worker messages, act on them, dispatch tasks.

    selector ── worker socket readable ──> messages ──> handler (under the node lock)
             ── zygote socket ──> SPAWNED pid / EXITED code ──> worker death handling
             ── wake socket ──> apply queued ref events, run timers

A worker's death is final once both its socket closed and the zygote reported its exit
code (or a second passed), so the error can say how it died.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import select
import selectors
import signal
import socket
import threading
import time
from typing import Any

import cloudpickle

from . import _payload as P
from ._node import Node, cancelled_payload
from ._protocol import Msg
from ._remote_error import RemoteError
from ._scheduler import Task, WorkerSlot
from ._worker import CANCEL_SIGNAL
from ._zygote import EXITED, SPAWNED
from .exceptions import WorkerCrashedError

_EXIT_REPORT_GRACE_S = 1.0
REF_TICK_S = 0.05
"""How often an otherwise idle node applies dropped refs (frees memory)."""


class NodeIO:
    def __init__(self, node: Node):
        self.node = node
        self.selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_write.setblocking(False)
        self.selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        self.selector.register(node.pool.control, selectors.EVENT_READ, "zygote")
        self._timers: list[tuple[float, int, Any]] = []
        self._timer_seq = itertools.count()
        self._pids: dict[int, WorkerSlot] = {}
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="ember-node-io", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=5)
        self.selector.close()
        self._wake_read.close()
        self._wake_write.close()

    def wake(self) -> None:
        try:
            self._wake_write.send(b"x")
        except (BlockingIOError, OSError):
            pass  # already awake, or shutting down

    def watch(self, worker: WorkerSlot) -> None:
        self.selector.register(worker.channel.sock, selectors.EVENT_READ, worker)

    def add_timer(self, delay: float, callback: Any) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._timer_seq), callback))
        self.wake()

    # -- loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        node = self.node
        while not self._stopping:
            timeout: float | None = REF_TICK_S
            if self._timers:
                timeout = min(REF_TICK_S,
                              max(0.0, self._timers[0][0] - time.monotonic()))
            try:
                events = self.selector.select(timeout)
            except (OSError, ValueError):
                return
            with node.lock:
                if self._stopping:
                    return
                node.drain_ref_events()
                for key, _ in events:
                    self._on_readable(key)
                self._fire_timers()
                node.drain_ref_events()
                self.dispatch()
                callbacks = node.take_after_lock()
            for callback in callbacks:
                callback()

    def _on_readable(self, key: selectors.SelectorKey) -> None:
        if key.data == "wake":
            try:
                self._wake_read.recv(4096)
            except OSError:
                pass
        elif key.data == "zygote":
            self._on_zygote_event()
        else:
            worker: WorkerSlot = key.data
            if worker.reader is not None:
                return  # a thread waiting in get() reads this worker directly
            try:
                messages = worker.channel.read_some(block=False)
            except OSError:
                messages = None
            if messages is None:
                self._on_worker_eof(worker)
                return
            for message in messages:
                self._handle(worker, message)

    # -- the direct path for a blocking get ------------------------------------------------
    def claim_producer(self, object_ids: set[int]) -> tuple[WorkerSlot, list[Task]] | None:
        """If every awaited object comes from tasks on one worker, let the waiting thread
        read that worker's socket itself (under the lock): its result then needs no
        hand-off from the I/O thread, which halves a synchronous round trip."""
        worker = None
        tasks = []
        for object_id in object_ids:
            task = self.node.tasks_by_return.get(object_id)
            if task is None or task.worker is None or (worker and task.worker is not worker):
                return None
            worker = task.worker
            tasks.append(task)
        if worker is None or worker.reader is not None or not worker.alive or worker.eof:
            return None
        worker.reader = threading.get_ident()
        try:
            self.selector.unregister(worker.channel.sock)
        except (KeyError, ValueError):
            worker.reader = None
            return None
        return worker, tasks

    def read_directly(self, claim: tuple[WorkerSlot, list[Task]], latch: Any,
                      timeout: float | None) -> None:
        """Read ``worker``'s messages in this thread until ``latch`` opens, the worker
        dies, or (briefly) nothing arrives — then hand the socket back to the I/O thread."""
        node = self.node
        worker, tasks = claim
        poller = select.poll()
        poller.register(worker.channel.sock, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while latch.remaining > 0:
                wait_ms = 10  # re-check: the task may have moved to another worker
                if deadline is not None:
                    wait_ms = min(wait_ms, max(0, int((deadline - time.monotonic()) * 1000)))
                ready = poller.poll(wait_ms)
                with node.lock:
                    if ready:
                        try:
                            messages = worker.channel.read_some(block=False)
                        except OSError:
                            messages = None
                        if messages is None:
                            worker.reader = None
                            self._on_worker_eof(worker)
                            return
                        for message in messages:
                            self._handle(worker, message)
                        node.drain_ref_events()
                        self.dispatch()
                    callbacks = node.take_after_lock()
                for callback in callbacks:
                    callback()
                if not ready and deadline is not None and time.monotonic() >= deadline:
                    return
                if any(t.worker is not worker and not t.finished for t in tasks):
                    return  # retried or handed back: the I/O thread will deliver it
        finally:
            with node.lock:
                if worker.reader == threading.get_ident():
                    worker.reader = None
                    if worker.alive and not worker.eof and not worker.retired:
                        self.watch(worker)

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            callback()

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self) -> None:
        node = self.node
        if not node.alive or not node.scheduler.has_ready():
            self._retire_idle()
            return
        batches: dict[WorkerSlot, list[tuple]] = {}
        for task, worker in node.scheduler.schedule(node.spawn_worker):
            batches.setdefault(worker, []).append(self._exec_message(task, worker))
        for worker, messages in batches.items():
            try:
                worker.channel.send_many(messages)
            except OSError:
                pass  # the worker died; its EOF is handled by the loop
        self._retire_idle()

    def _retire_idle(self) -> None:
        for worker in self.node.scheduler.surplus_idle_workers():
            worker.retired = True
            self.node.scheduler.workers.pop(worker.index, None)
            worker.channel.close()  # the worker exits on EOF
            try:
                self.selector.unregister(worker.channel.sock)
            except (KeyError, ValueError):
                pass

    def _exec_message(self, task: Task, worker: WorkerSlot) -> tuple:
        node = self.node
        blob = None
        if task.function_id not in worker.functions_sent:
            blob = node.functions[task.function_id]
            worker.functions_sent.add(task.function_id)
        args_id, args_payload = task.args_payload
        if args_id is not None:
            args_payload = self.payload_for(worker, args_id)
        ref_values = [(slot, oid, self.payload_for(worker, oid)) for slot, oid in task.ref_args]
        env = None
        if worker.gpu_ids or worker.gpu_env:
            env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, worker.gpu_ids))}
            worker.gpu_env = bool(worker.gpu_ids)
        return (Msg.EXEC, task.task_id, task.function_id, blob, (args_id, args_payload),
                ref_values, task.return_ids, task.name, env, task.depth)

    def payload_for(self, worker: WorkerSlot, object_id: int) -> P.Payload:
        """A payload a worker will map; arena objects stay pinned until it lets go."""
        payload = self.node.store.payload_for_read(object_id)
        if payload[0] == P.ARENA:
            self.node.store.pin(object_id)
            worker.pins[object_id] += 1
        return payload

    # -- messages -----------------------------------------------------------------------
    def _handle(self, worker: WorkerSlot, message: tuple) -> None:
        kind = message[0]
        if kind == Msg.DONE:
            self._on_done(worker, *message[1:])
        elif kind == Msg.REFS:
            self._on_refs(worker, *message[1:])
        elif kind == Msg.SUBMIT:
            self._on_submit(worker, *message[1:])
        elif kind == Msg.PUT:
            self._on_put(worker, *message[1:])
        elif kind == Msg.GET:
            self._on_get(worker, *message[1:])
        elif kind == Msg.WAIT:
            self._on_wait(worker, *message[1:])
        elif kind == Msg.ALLOC:
            self._on_alloc(worker, *message[1:])
        elif kind == Msg.CANCEL_REF:
            self.cancel(message[1], message[2])
        elif kind == Msg.INFO:
            self._on_info(worker, *message[1:])
        elif kind == Msg.RETURN:
            self._take_back(worker, message[1])

    def _reply(self, worker: WorkerSlot, request_id: int, value: Any) -> None:
        if worker.alive:
            try:
                worker.channel.send((Msg.REPLY, request_id, value))
            except OSError:
                pass

    def _on_done(self, worker: WorkerSlot, task_id: int, results: Any,
                 start: float, end: float) -> None:
        node = self.node
        task = worker.inflight.get(task_id)
        if task is None:
            return
        if worker.blocked and next(iter(worker.inflight)) == task_id:
            self._abandon_waits(worker)  # it finished (e.g. cancelled) while in get
        node.scheduler.finish(worker, task)
        node.timeline.append((task.name, task.task_id, worker.index, worker.pid, start, end))
        if isinstance(results, tuple):  # one ERROR payload for every return
            if self._should_retry_error(task, results):
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
            if worker.held[object_id] > 0:
                worker.held[object_id] -= 1
                if not worker.held[object_id]:
                    del worker.held[object_id]
                store.decref(object_id)
        for object_id in unpins:
            if worker.pins[object_id] > 0:
                worker.pins[object_id] -= 1
                if not worker.pins[object_id]:
                    del worker.pins[object_id]
                store.unpin(object_id)

    def _on_submit(self, worker: WorkerSlot, task_id: int, function_id: int,
                   blob: bytes | None, args_payload: P.Payload, ref_slots: list,
                   nested: list[int], return_ids: list[int], options_blob: bytes,
                   name: str, depth: int) -> None:
        node = self.node
        options = cloudpickle.loads(options_blob)
        if blob is not None:
            node.functions.setdefault(function_id, blob)
        args_id = None
        if args_payload[0] != P.INLINE:
            args_id = node.new_id()
            node.store.create(args_id)
            node.store.seal(args_id, args_payload)
            if args_payload[0] == P.ARENA:
                worker.allocs.discard(args_payload[2])
        task = Task(
            task_id=task_id, function_id=function_id, name=name,
            args_payload=(args_id, args_payload), ref_args=ref_slots, held_ids=[],
            return_ids=return_ids, demand=options.resource_demand(),
            max_retries=options.max_retries, retry_exceptions=options.retry_exceptions,
            depth=depth, submitter=worker.index)
        node.admit(task, nested, holder=worker)

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
        except Exception as error:  # e.g. disk full while spilling: the worker raises it
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
            payloads = [self.payload_for(worker, oid) for oid in ids]
        except Exception as error:  # an object was lost: the worker's get raises it
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
            self.add_timer(timeout, lambda: finish(on_timeout))

    def _abandon_waits(self, worker: WorkerSlot) -> None:
        for state in worker.requests.values():
            if not state["done"]:
                state["done"] = True
                self.node.scheduler.unblock(worker)
        worker.requests.clear()

    def _on_info(self, worker: WorkerSlot, request_id: int, what: str) -> None:
        node = self.node
        answers = {
            "cluster_resources": node.cluster_resources,
            "available_resources": node.available_resources,
            "timeline": node.timeline_events,
        }
        self._reply(worker, request_id, answers[what]())

    # -- cancellation -------------------------------------------------------------------
    def cancel(self, object_id: int, force: bool) -> None:
        node = self.node
        task = node.tasks_by_return.get(object_id)
        if task is None or task.finished:
            return
        task.cancelled = True
        worker = task.worker
        if worker is None:
            node.complete(task, [cancelled_payload()] * len(task.return_ids), ())
        elif force:
            task.force_cancelled = True
            if worker.pid:
                node.pool.kill(worker.pid, signal.SIGKILL)
            else:
                worker.kill_when_spawned = True
        else:
            try:
                worker.channel.send((Msg.CANCEL, task.task_id))
                if worker.pid:
                    os.kill(worker.pid, CANCEL_SIGNAL)  # interrupts user code, even a sleep
                else:
                    worker.signal_when_spawned = CANCEL_SIGNAL
            except (OSError, ProcessLookupError):
                pass

    # -- worker lifecycle ------------------------------------------------------------------
    def _on_zygote_event(self) -> None:
        event = self.node.pool.read_event()
        if event is None:
            self._stopping = True  # the zygote is gone; shutdown will follow
            return
        if event[0] == SPAWNED:
            _, index, pid = event
            worker = self.node.scheduler.workers.get(index)
            if worker is not None:
                worker.pid = pid
                self._pids[pid] = worker
                if worker.kill_when_spawned:
                    self.node.pool.kill(pid, signal.SIGKILL)
                elif worker.signal_when_spawned:
                    os.kill(pid, worker.signal_when_spawned)
        elif event[0] == EXITED:
            _, pid, code = event
            worker = self._pids.pop(pid, None)
            if worker is not None:
                worker.exit_code = code
                if worker.eof:
                    self._worker_died(worker)

    def _on_worker_eof(self, worker: WorkerSlot) -> None:
        try:
            self.selector.unregister(worker.channel.sock)
        except (KeyError, ValueError):
            pass
        worker.eof = True
        if worker.exit_code is not None or worker.retired:
            self._worker_died(worker)
        else:
            self.add_timer(_EXIT_REPORT_GRACE_S, lambda: self._worker_died(worker))

    def _worker_died(self, worker: WorkerSlot) -> None:
        node = self.node
        if not worker.alive:
            return
        tasks = node.scheduler.remove_worker(worker)
        worker.channel.close()
        for index, task in enumerate(tasks):
            if task.finished:
                continue
            if task.cancelled:
                node.complete(task, [cancelled_payload()] * len(task.return_ids), ())
                continue
            if index == 0:  # the one that was running when the worker died
                task.retries_used += 1
                if task.max_retries != -1 and task.retries_used > task.max_retries:
                    error = WorkerCrashedError(self._death_message(worker, task))
                    node.complete(task, [P.error(error)] * len(task.return_ids), ())
                    continue
            task.worker = None
            node.scheduler.push(task, keep_order=True)
        for object_id, count in worker.held.items():
            for _ in range(count):
                node.store.decref(object_id)
        for object_id, count in worker.pins.items():
            for _ in range(count):
                node.store.unpin(object_id)
        for offset in worker.allocs:
            node.store.free_allocation(offset)
        worker.held.clear()
        worker.pins.clear()
        worker.allocs.clear()

    def _death_message(self, worker: WorkerSlot, task: Task) -> str:
        code = worker.exit_code
        if code is None:
            how = "its exit status is unknown"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            how = f"it was killed by {name}"
            if -code == signal.SIGKILL:
                how += " (possibly by the out-of-memory killer)"
        else:
            how = f"it exited with exit code {code}"
        attempts = task.retries_used
        return (
            f"the worker running task {task.name!r} (pid {worker.pid}) died: {how}. The task "
            f"ran {attempts} time(s) (max_retries={task.max_retries}). If it runs out of "
            "memory, lower its memory use or run fewer at once (raise num_cpus per task); "
            "raise max_retries to retry more")
