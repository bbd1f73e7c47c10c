"""The node's I/O thread: read worker messages, act on them, dispatch tasks.

    epoll ── worker socket readable ──> messages ──> MessageHandlers (node lock held)
             ── zygote socket ──> SPAWNED pid / EXITED code ──> WorkerLifecycle
             ── wake socket / timers ──> apply queued ref events, run timers
    dispatch ── Scheduler.schedule() ──> EXEC batches to workers
"""

from __future__ import annotations

import heapq
import itertools
import select
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from . import _payload as P
from ._node_handlers import MessageHandlers
from ._protocol import Msg
from ._scheduler import Task, WorkerSlot
from ._worker_lifecycle import WorkerLifecycle

if TYPE_CHECKING:
    from ._node import Node

REF_TICK_S = 0.05
"""How often an otherwise idle node applies dropped refs and flushes deferred messages."""
_OUTBOX_LIMIT = 64


class NodeIO:
    def __init__(self, node: Node):
        self.node = node
        # A raw epoll and an fd table: registering and unregistering are single C calls,
        # which the direct path of a blocking get does on every call.
        self.epoll = select.epoll()
        self.watched: dict[int, Any] = {}
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_write.setblocking(False)
        self._register(self._wake_read, "wake")
        self._register(node.pool.control, "zygote")
        self._unsent: list[WorkerSlot] = []  # workers with deferred messages
        self._timers: list[tuple[float, int, Any]] = []
        self._timer_seq = itertools.count()
        self.handlers = MessageHandlers(node, self)
        self.lifecycle = WorkerLifecycle(node, self)
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
        self.epoll.close()
        self._wake_read.close()
        self._wake_write.close()

    def wake(self) -> None:
        try:
            self._wake_write.send(b"x")
        except (BlockingIOError, OSError):
            pass  # already awake, or shutting down

    def _register(self, sock: socket.socket, target: Any) -> None:
        fd = sock.fileno()
        self.watched[fd] = target
        self.epoll.register(fd, select.EPOLLIN)

    def forget(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd >= 0 and self.watched.pop(fd, None) is not None:
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):
                pass

    def watch(self, worker: WorkerSlot) -> None:
        self._register(worker.channel.sock, worker)

    def unwatch(self, worker: WorkerSlot) -> bool:
        """Stop reading ``worker`` in the I/O thread; False if it was not watched."""
        fd = worker.channel.sock.fileno()
        if fd < 0 or self.watched.pop(fd, None) is None:
            return False
        try:
            self.epoll.unregister(fd)
        except (OSError, ValueError):
            pass
        return True

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
                events = self.epoll.poll(timeout)
            except (OSError, ValueError):
                return
            with node.lock:
                if self._stopping:
                    return
                node.drain_ref_events()
                for fd, _ in events:
                    target = self.watched.get(fd)
                    if target is not None:
                        self._on_readable(target)
                self._fire_timers()
                callbacks = self._settle()
            for callback in callbacks:
                callback()

    def _settle(self) -> list[Any]:
        """After handling messages (lock held): apply ref events, run what became ready,
        send deferred messages; returns the wake-ups to run once the lock is released."""
        self.node.drain_ref_events()
        self.dispatch()
        self.flush()
        return self.node.take_after_lock()

    def _on_readable(self, target: Any) -> None:
        if target == "wake":
            try:
                self._wake_read.recv(4096)
            except OSError:
                pass
        elif target == "zygote":
            self.lifecycle.on_zygote_event()
        else:
            worker: WorkerSlot = target
            if worker.reader is not None:
                return  # a thread waiting in get() reads this worker directly
            try:
                messages = worker.channel.read_some(block=False)
            except OSError:
                messages = None
            if messages is None:
                self.lifecycle.on_worker_eof(worker)
                return
            for message in messages:
                self.handlers.handle(worker, message)

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
        if not self.unwatch(worker):
            return None
        worker.reader = threading.get_ident()
        return worker, tasks

    def read_directly(self, claim: tuple[WorkerSlot, list[Task]], latch: Any,
                      timeout: float | None) -> None:
        """Read ``worker``'s messages in this thread until ``latch`` opens, the worker
        dies, or (briefly) nothing arrives — then hand the socket back to the I/O thread."""
        node = self.node
        worker, tasks = claim
        poller = worker.poller
        if poller is None:
            poller = worker.poller = select.poll()
            poller.register(worker.channel.sock, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            spin = True
            while latch.remaining > 0:
                try:
                    # A short result is often back within microseconds: poll without
                    # sleeping first, then sleep in poll().
                    messages = worker.channel.read_spinning() if spin else []
                except OSError:
                    messages = None
                ready = messages != []
                spin = False
                if not ready:
                    wait_ms = 10  # re-check: the task may have moved to another worker
                    if deadline is not None:
                        wait_ms = min(wait_ms, max(0, int((deadline - time.monotonic()) * 1000)))
                    ready = bool(poller.poll(wait_ms))
                    if ready:
                        try:
                            messages = worker.channel.read_some(block=False)
                        except OSError:
                            messages = None
                spin = ready  # after some traffic, more may follow at once
                with node.lock:
                    if ready:
                        if messages is None:
                            worker.reader = None
                            self.lifecycle.on_worker_eof(worker)
                            return
                        for message in messages:
                            self.handlers.handle(worker, message)
                    callbacks = self._settle()
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
        if node.extras.waiting_groups:
            node.extras.try_reserve()
        if not node.alive or not node.scheduler.has_ready():
            self._retire_idle()
            return
        batches: dict[WorkerSlot, list[tuple[Any, ...]]] = {}
        for task, worker in node.scheduler.schedule(node.spawn_worker):
            batches.setdefault(worker, []).append(self._exec_message(task, worker))
        for worker, messages in batches.items():
            # A worker with earlier work still running gets these in its next batch.
            self.send(worker, messages, defer=len(worker.inflight) > len(messages))
        self._retire_idle()

    # -- sending: per-worker outboxes ---------------------------------------------------------
    def send(self, worker: WorkerSlot, messages: list[tuple[Any, ...]], *,
             defer: bool = False) -> None:
        """Send to a worker, after anything already waiting in its outbox (order is kept).

        ``defer``: the worker is busy anyway, so the messages may wait for the next flush
        (the I/O thread's next turn, a get/wait, or the 50 ms tick) and share one system
        call with others."""
        outbox = worker.outbox
        if defer and len(outbox) + len(messages) < _OUTBOX_LIMIT:
            if not outbox:
                self._unsent.append(worker)
            outbox.extend(messages)
            return
        if outbox:
            messages = outbox + messages
            outbox.clear()
        if messages:
            try:
                worker.channel.send_many(messages)
            except OSError:
                pass  # the worker died; its EOF is handled by the loop

    def flush(self) -> None:
        """Send every deferred message now (under the node lock)."""
        unsent, self._unsent = self._unsent, []
        for worker in unsent:
            if worker.outbox and worker.alive:
                self.send(worker, [])

    def _retire_idle(self) -> None:
        for worker in self.node.scheduler.surplus_idle_workers():
            self.retire(worker)

    def retire(self, worker: WorkerSlot) -> None:
        """End a worker on purpose (a surplus idle one, or its actor is over)."""
        worker.retired = True
        self.unwatch(worker)  # before close: the fd is still valid
        worker.channel.close()  # the process exits when it sees EOF
        self.node.scheduler.remove_worker(worker)
        self.lifecycle.release_holdings(worker)

    def _exec_message(self, task: Task, worker: WorkerSlot) -> tuple[Any, ...]:
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
        if task.creates_actor:
            record = task.actor
            concurrency = record.options.max_concurrency or (1000 if record.is_async else 1)
            return (Msg.ACTOR_INIT, task.task_id, task.function_id, blob,
                    (args_id, args_payload), ref_values, task.return_ids, task.name, env,
                    concurrency, record.is_async)
        stream = task.backpressure if task.streaming else 0
        return (Msg.EXEC, task.task_id, task.function_id, blob, (args_id, args_payload),
                ref_values, task.return_ids, task.name, env, task.depth, stream)

    def call_message(self, call: Task, worker: WorkerSlot) -> tuple[Any, ...]:
        """The message that runs an actor call on the actor's worker."""
        args_id, args_payload = call.args_payload
        if args_id is not None:
            args_payload = self.payload_for(worker, args_id)
        ref_values = [(slot, oid, self.payload_for(worker, oid)) for slot, oid in call.ref_args]
        stream = call.backpressure if call.streaming else 0
        return (Msg.ACTOR_CALL, call.task_id, call.method, (args_id, args_payload),
                ref_values, call.return_ids, call.name, stream)

    def payload_for(self, worker: WorkerSlot, object_id: int) -> P.Payload:
        """A payload a worker will map; arena objects stay pinned until it lets go."""
        payload = self.node.store.payload_for_read(object_id)
        if payload[0] == P.ARENA:
            self.node.store.pin(object_id)
            worker.pins[object_id] += 1
        return payload
