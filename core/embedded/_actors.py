"""The driver's actor directory: each actor's lifecycle, its call queue, its name.

    PENDING ──created──> ALIVE ──process died, restarts left──> RESTARTING ──> ALIVE
       │                   │                                        │
       └──__init__ raised──┴──killed / no restarts left / handles gone──> DEAD

Calls are sent in submission order; a call whose arguments are not ready holds back
the ones behind it, so each caller's calls run in the order it made them. Calls that
were in flight when the process died are retried after the restart if
``max_task_retries`` allows, otherwise they fail with ``ActorDiedError``.
"""

from __future__ import annotations

import collections
import signal
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..exceptions import ActorDiedError
from . import _payload as P
from ._scheduler import Task, WorkerSlot

if TYPE_CHECKING:
    from .._actor import MethodInfo
    from ._node import Node


class ActorState(Enum):
    PENDING = "pending"
    ALIVE = "alive"
    RESTARTING = "restarting"
    DEAD = "dead"


TRANSITIONS = {
    ActorState.PENDING: {ActorState.ALIVE, ActorState.DEAD},
    ActorState.ALIVE: {ActorState.RESTARTING, ActorState.DEAD},
    ActorState.RESTARTING: {ActorState.ALIVE, ActorState.DEAD},
    ActorState.DEAD: set(),
}


class ActorRecord:
    """Everything the driver knows about one actor."""

    methods: dict[str, MethodInfo]    # set by NodeActors.create, right after construction
    is_async: bool                    # likewise

    def __init__(self, actor_id: int, class_name: str, creation: Task, options: Any,
                 handle_id: int, key: tuple[str, str] | None):
        self.actor_id = actor_id
        self.class_name = class_name
        self.creation = creation          # the template re-run on every restart
        self.options = options
        self.handle_id = handle_id        # store entry whose refs are the actor's handles
        self.key = key                    # (namespace, name) if named
        self.state = ActorState.PENDING
        self.worker: WorkerSlot | None = None
        self.calls: collections.deque[Task] = collections.deque()  # not yet sent
        self.restarts = 0
        self.no_restart = False
        self.death: str | None = None     # why it is dead
        self.pending_creation: Task | None = None
        self.call_names: dict[str, str] = {}   # method -> "Class.method", made once
        self.last_pid: int | None = None

    def move(self, state: ActorState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"actor {self.class_name}: {self.state} -> {state} is not allowed")
        self.state = state

    @property
    def label(self) -> str:
        name = f" {self.key[1]!r}" if self.key else ""
        return f"actor {self.class_name}{name}"


class ActorDirectory:
    def __init__(self, node: Node):
        self.node = node
        self.actors: dict[int, ActorRecord] = {}
        self.names: dict[tuple[str, str], ActorRecord] = {}
        self.by_handle: dict[int, ActorRecord] = {}

    # -- creation ---------------------------------------------------------------------
    def register(self, record: ActorRecord) -> None:
        self.actors[record.actor_id] = record
        self.by_handle[record.handle_id] = record
        if record.key is not None:
            self.names[record.key] = record
        self._start(record)

    def _start(self, record: ActorRecord) -> None:
        """Queue a (re)creation: a task that claims a worker of its own."""
        template = record.creation
        creation = record.pending_creation = Task(
            task_id=self.node.new_id(), function_id=template.function_id, name=template.name,
            args_payload=template.args_payload, ref_args=template.ref_args, held_ids=[],
            return_ids=[], demand=template.demand, max_retries=0,
            retry_exceptions=False, depth=0, submitter=0, pool=template.pool,
            actor=record, creates_actor=True)
        self.node.await_dependencies(creation, self.node.enqueue)

    def created(self, record: ActorRecord, worker: WorkerSlot, error: P.Payload | None) -> None:
        """The creation task finished on ``worker``: the actor is up, or ``__init__`` raised."""
        if record.state is ActorState.DEAD:
            self._release_worker(worker)
            return
        if error is not None:
            cause = P.error_from(error)
            self._die(record, f"its constructor raised:\n{cause}", worker)
            return
        record.worker = worker
        record.last_pid = worker.pid
        record.move(ActorState.ALIVE)
        self.pump(record)

    # -- calls ------------------------------------------------------------------------
    def enqueue(self, record: ActorRecord, call: Task) -> None:
        if record.state is ActorState.DEAD:
            self._fail_call(record, call)
            return
        record.calls.append(call)
        self.pump(record)

    def pump(self, record: ActorRecord) -> None:
        """Send ready calls, in order, to a live actor."""
        if record.state is not ActorState.ALIVE or record.worker is None:
            return
        worker = record.worker
        messages = []
        while record.calls:
            call = record.calls[0]
            if call.finished or call.cancelled:
                record.calls.popleft()
                if call.cancelled and not call.finished:
                    self.node.complete(call, [P.cancelled()] * len(call.return_ids), ())
                continue
            if call.pending_deps:
                break
            record.calls.popleft()
            failed = self.node.failed_dependency(call)
            if failed is not None:
                self.node.complete(call, [failed] * len(call.return_ids), ())
                continue
            worker.inflight[call.task_id] = call
            call.worker = worker
            messages.append(self.node.io.call_message(call, worker))
        if messages:
            self.node.io.send(worker, messages, defer=len(worker.inflight) > len(messages))

    def dependency_ready(self, call: Task) -> None:
        self.pump(call.actor)

    # -- deaths -----------------------------------------------------------------------
    def worker_died(self, worker: WorkerSlot, tasks: list[Task], how: str) -> None:
        """The actor's process is gone: restart it, retrying calls in flight, or give up."""
        record: ActorRecord = worker.actor
        in_flight = [t for t in tasks if not t.creates_actor and not t.finished]
        if record.state is ActorState.DEAD:
            for call in in_flight:
                self._fail_call(record, call)
            return
        record.worker = None
        limit = record.options.max_restarts
        can_restart = not record.no_restart and (limit == -1 or record.restarts < limit)
        if record.state is ActorState.PENDING and any(t.creates_actor for t in tasks) \
                and not can_restart:
            self._die(record, f"its process died while starting: {how}", None)
            return
        if not can_restart:
            reason = "it was killed with ember.kill" if record.no_restart else (
                f"its process (pid {worker.pid}) died: {how}; restarted "
                f"{record.restarts}/{limit} times")
            for call in in_flight:
                self._fail_call(record, call, reason)
            self._die(record, reason, None)
            return
        retries = record.options.max_task_retries
        for call in reversed(in_flight):
            call.worker = None
            if retries == -1 or call.retries_used < retries:
                call.retries_used += 1
                record.calls.appendleft(call)
            else:
                self._fail_call(record, call, (
                    f"its process (pid {worker.pid}) died during this call: {how}"),
                    restarting=True)
        record.restarts += 1
        if record.state is ActorState.ALIVE:
            record.move(ActorState.RESTARTING)
        self._start(record)

    def kill(self, record: ActorRecord, no_restart: bool) -> None:
        record.no_restart = record.no_restart or no_restart
        worker = record.worker
        if no_restart and record.state is not ActorState.DEAD:
            # Dead from now on: calls made after kill() returns must fail, even if the
            # process takes a moment to go.
            self._die(record, "it was killed with ember.kill", None)
        if worker is not None and worker.alive:
            if worker.pid:
                self.node.pool.kill(worker.pid, signal.SIGKILL)
            else:
                worker.kill_when_spawned = True

    def exited(self, record: ActorRecord, worker: WorkerSlot, reason: str) -> None:
        """The actor ended itself (``sys.exit`` in a method): dead, never restarted."""
        record.no_restart = True
        self._die(record, reason, worker)

    def handles_gone(self, handle_id: int) -> None:
        """The last handle anywhere was dropped: end a non-detached actor."""
        record = self.by_handle.get(handle_id)
        if record is None or record.state is ActorState.DEAD:
            return
        record.no_restart = True
        self._die(record, "all of its handles went out of scope", record.worker)

    # -- endings ----------------------------------------------------------------------
    def _die(self, record: ActorRecord, reason: str, worker: WorkerSlot | None) -> None:
        record.death = reason
        if record.state is not ActorState.DEAD:
            record.move(ActorState.DEAD)
        if record.key is not None and self.names.get(record.key) is record:
            del self.names[record.key]
        while record.calls:
            self._fail_call(record, record.calls.popleft())
        if worker is not None:
            for call in list(worker.inflight.values()):
                if not call.creates_actor:
                    self._fail_call(record, call)
            self._release_worker(worker)
        record.worker = None
        if record.pending_creation is not None and record.pending_creation.worker is None:
            record.pending_creation.cancelled = True  # still queued: never start it
        for object_id in record.creation.held_ids:
            self.node.store.decref(object_id)
        record.creation.held_ids = []

    def _release_worker(self, worker: WorkerSlot) -> None:
        """Stop an actor's process and give its resources back."""
        if worker.alive:
            self.node.io.retire(worker)

    def _fail_call(self, record: ActorRecord, call: Task, reason: str | None = None,
                   restarting: bool = False) -> None:
        if call.finished:
            return
        if restarting:
            message = (f"{record.label}: {reason}. The actor is restarting (restart "
                       f"{record.restarts + 1} of {record.options.max_restarts}); set "
                       "max_task_retries to retry calls that were in flight")
        else:
            message = self.describe_death(record, reason)
        error = ActorDiedError(message)
        self.node.complete(call, [P.error(error)] * len(call.return_ids), ())

    def describe_death(self, record: ActorRecord, reason: str | None = None) -> str:
        why = reason or record.death or "it died"
        pid = f" (pid {record.last_pid})" if record.last_pid else ""
        fix = ("raise max_restarts (and max_task_retries) to survive crashes, or look at "
               "why the process exited")
        if "constructor" in why:
            fix = "fix the error in __init__"
        elif "handles" in why:
            fix = "keep a handle alive, or create it with lifetime='detached'"
        elif "ember.kill" in why or "on purpose" in why:
            fix = "create a new actor"
        return f"{record.label}{pid} is dead: {why}. Calls cannot run; {fix}"

