"""Which task runs on which worker, given resources: pure logic, no I/O.

    ready tasks (priority: deeper nesting first, then submission order)
        │  schedule()
        ▼
    a worker already leased for the same resource shape and idle ──> assign
    else resources free for a new lease ──> an idle worker, or a new one to spawn
    else a leased worker of that shape with room in its pipeline ──> queue behind

A worker blocked in ``get`` gives its CPUs back so nested tasks can run (no deadlock on
2 CPUs); it takes them back when it resumes, briefly over-committing if need be.
Nested tasks run before new top-level ones so a blocked parent's children go first.

Resources come from pools: the node's free pool, and one pool per placement-group
bundle, reserved from the node all at once. An actor's creation takes a worker of its
own whose lease lasts as long as the actor.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._resources import fits

if TYPE_CHECKING:
    from . import _payload as P

PIPELINE_DEPTH = 4
"""Tasks queued on one worker when no resources are free for another lease."""


Shape = tuple[Any, ...]
"""A resource shape: the demand's sorted items, or (that, pool key, actor creation id)."""
PoolKey = tuple[int, int]
"""A placement-group bundle's pool: (group id, bundle index)."""

_shapes: dict[int, tuple[dict[str, float], Shape]] = {}


def shape_key(demand: dict[str, float]) -> Shape:
    # Demands usually come from a cached TaskOptions dict: memoize by identity.
    cached = _shapes.get(id(demand))
    if cached is not None and cached[0] is demand:
        return cached[1]
    shape = tuple(sorted(demand.items()))
    if len(_shapes) < 4096:
        _shapes[id(demand)] = (demand, shape)
    return shape


@dataclass(eq=False, slots=True)
class Task:
    """A submitted task as the driver tracks it."""

    task_id: int
    function_id: int
    name: str
    args_payload: tuple[int | None, P.Payload]  # (hidden object id or None, payload)
    ref_args: list[tuple[Any, int]]
    held_ids: list[int]            # refs this task keeps alive until it finishes
    return_ids: list[int]
    demand: dict[str, float]
    max_retries: int
    retry_exceptions: Any
    depth: int
    submitter: int                 # 0 for the driver, else a worker index
    pending_deps: int = 0
    retries_used: int = 0
    cancelled: bool = False
    force_cancelled: bool = False
    finished: bool = False
    worker: Any = None
    seq: int = 0
    shape: Shape = ()
    pool: PoolKey | None = None    # (placement group id, bundle index or -1)
    actor: Any = None              # the ActorRecord, for actor creations and calls
    creates_actor: bool = False
    streaming: bool = False
    backpressure: int = 0
    method: str | None = None      # for actor calls
    ready_since: float = 0.0       # monotonic time it last entered the ready queue

    def __post_init__(self) -> None:
        self.shape = shape_key(self.demand) if self.demand else ()
        if self.pool is not None or self.creates_actor:
            self.shape = (self.shape, self.pool, self.task_id if self.creates_actor else None)


@dataclass(eq=False)
class WorkerSlot:
    """The scheduler's view of one worker process."""

    index: int
    lease: Shape | None = None               # resource shape it is leased for
    lease_demand: dict[str, float] = field(default_factory=dict)
    lease_pool: PoolKey | None = None        # the placement-group bundle it draws from
    gpu_ids: list[int] = field(default_factory=list)
    inflight: OrderedDict[int, Task] = field(default_factory=OrderedDict)  # task_id -> Task
    blocked: int = 0
    alive: bool = True
    # Filled in by the node: its connection and what the worker holds.
    channel: Any = None
    pid: int | None = None
    functions_sent: set[int] = field(default_factory=set)
    held: Counter[int] = field(default_factory=Counter)  # object id -> refs it holds
    pins: Counter[int] = field(default_factory=Counter)  # object id -> views it maps
    allocs: set[int] = field(default_factory=set)        # arena offsets being written
    requests: dict[object, dict[str, int]] = field(default_factory=dict)  # waits in get
    exit_code: int | None = None
    eof: bool = False
    gpu_env: bool = False
    retired: bool = False
    kill_when_spawned: bool = False
    signal_when_spawned: int = 0
    reader: int | None = None        # a thread reading this worker directly, if any
    actor: Any = None                # the ActorRecord this worker hosts, if any
    poller: Any = None               # select.poll on its socket, for the direct path
    outbox: list[tuple[Any, ...]] = field(default_factory=list)  # deferred (see NodeIO.send)


class Scheduler:
    def __init__(self, total: dict[str, float], max_idle_workers: int):
        self.total = dict(total)
        self.available = dict(total)
        self.max_idle_workers = max_idle_workers
        self._ready: dict[Shape, list[tuple[int, int, Task]]] = {}
        self._seq = itertools.count()
        self.workers: dict[int, WorkerSlot] = {}
        self._gpu_free = {i: 1.0 for i in range(int(total.get("GPU", 0)))}
        self.pools: dict[PoolKey, dict[str, float]] = {}  # (group id, bundle) -> free
        self.groups: dict[int, list[PoolKey]] = {}         # group id -> its bundle keys

    # -- placement groups ------------------------------------------------------------
    def reserve(self, group_id: int, bundles: list[dict[str, float]]) -> bool:
        """Take every bundle of a group from the node at once, or nothing."""
        total: dict[str, float] = {}
        for bundle in bundles:
            for key, amount in bundle.items():
                total[key] = total.get(key, 0.0) + amount
        if not fits(self.available, total):
            return False
        for key, amount in total.items():
            self.available[key] -= amount
        keys = [(group_id, index) for index in range(len(bundles))]
        for pool_key, bundle in zip(keys, bundles):
            self.pools[pool_key] = dict(bundle)
        self.groups[group_id] = keys
        return True

    def release_group(self, group_id: int) -> None:
        """Give a group's unused reservation back; leases in it return on release."""
        for key in self.groups.pop(group_id, ()):
            for resource, amount in self.pools.pop(key).items():
                self.available[resource] = self.available.get(resource, 0.0) + amount

    def pool_for(self, task: Task) -> PoolKey | None | Literal[False]:
        """The pool key a task draws from (None: the node); False if none can serve it."""
        if task.pool is None:
            return None
        group_id, index = task.pool
        keys = self.groups.get(group_id)
        if keys is None:
            return False  # not reserved yet (or removed)
        if index >= 0:
            return keys[index]
        for key in keys:
            if fits(self.pools[key], task.demand):
                return key
        return keys[0]

    def free(self, pool: PoolKey | None) -> dict[str, float]:
        return self.available if pool is None else self.pools.get(pool, self.available)

    def released_when_tasks_finish(self, pool: PoolKey | None) -> dict[str, float]:
        """What running (not blocked) tasks leased from ``pool`` give back as they end."""
        released: dict[str, float] = {}
        for worker in self.workers.values():
            if worker.actor is None and worker.lease is not None and \
                    worker.lease_pool == pool and not worker.blocked:
                for key, amount in worker.lease_demand.items():
                    released[key] = released.get(key, 0.0) + amount
        return released

    def oldest_waiting(self) -> list[Task]:
        """The first ready task of each resource shape: the ones that could not start."""
        heads = []
        for heap in self._ready.values():
            if heap and not heap[0][2].cancelled and not heap[0][2].finished:
                heads.append(heap[0][2])
        return heads

    # -- queue ---------------------------------------------------------------------
    def push(self, task: Task, *, keep_order: bool = False) -> None:
        if not keep_order:
            task.seq = next(self._seq)
        task.ready_since = time.monotonic()
        heapq.heappush(self._ready.setdefault(task.shape, []), (-task.depth, task.seq, task))

    def has_ready(self) -> bool:
        for heap in self._ready.values():
            if heap:
                return True
        return False

    def infeasible(self, demand: dict[str, float]) -> str | None:
        """Why ``demand`` can never be met on this node, or None."""
        for key, amount in demand.items():
            have = self.total.get(key, 0.0)
            if amount > have + 1e-9:
                return f"{amount:g} {key} requested but the cluster has {have:g} in total"
        return None

    # -- decisions -------------------------------------------------------------------
    def schedule(self, spawn: Any) -> list[tuple[Task, WorkerSlot]]:
        """Assign ready tasks to workers; ``spawn()`` returns a new WorkerSlot.

        Tasks wait in one queue per resource shape, so a shape that cannot run now
        costs nothing while others are placed.
        """
        assignments: list[tuple[Task, WorkerSlot]] = []
        heaps = [h for h in self._ready.values() if h]
        if len(heaps) > 1:
            heaps.sort(key=lambda h: h[0][:2])
        for heap in heaps:
            while heap:
                task = heap[0][2]
                if task.cancelled or task.finished:
                    heapq.heappop(heap)
                    continue
                worker = self._place(task, spawn)
                if worker is None:
                    break
                heapq.heappop(heap)
                if task.creates_actor:
                    worker.actor = task.actor
                worker.inflight[task.task_id] = task
                task.worker = worker
                assignments.append((task, worker))
        return assignments

    def _place(self, task: Task, spawn: Any) -> WorkerSlot | None:
        pool = self.pool_for(task)
        if pool is False:
            return None
        shape = task.shape
        leased = []
        if not task.creates_actor:
            for worker in self.workers.values():
                if worker.lease == shape and worker.alive and not worker.blocked:
                    if not worker.inflight:
                        return worker
                    leased.append(worker)
        if fits(self.free(pool), task.demand):
            worker = self._idle_worker() or spawn()
            self._lease(worker, task, pool)
            return worker
        if leased:
            worker = min(leased, key=lambda w: len(w.inflight))
            if len(worker.inflight) < PIPELINE_DEPTH:
                return worker
        return None

    def _idle_worker(self) -> WorkerSlot | None:
        for worker in self.workers.values():
            if worker.alive and worker.lease is None and not worker.inflight \
                    and worker.actor is None:
                return worker
        return None

    def _lease(self, worker: WorkerSlot, task: Task, pool: PoolKey | None) -> None:
        worker.lease = task.shape
        worker.lease_demand = dict(task.demand)
        worker.lease_pool = pool
        free = self.free(pool)
        for key, amount in task.demand.items():
            free[key] = free.get(key, 0.0) - amount
        worker.gpu_ids = self._take_gpus(task.demand.get("GPU", 0.0))

    def _take_gpus(self, amount: float) -> list[int]:
        if amount <= 0:
            return []
        if amount < 1:
            for gpu, free in self._gpu_free.items():
                if free >= amount - 1e-9:
                    self._gpu_free[gpu] = free - amount
                    return [gpu]
        whole = [gpu for gpu, free in self._gpu_free.items() if free >= 1 - 1e-9]
        taken = whole[:math.ceil(amount)]
        for gpu in taken:
            self._gpu_free[gpu] = 0.0
        return taken

    def release_lease(self, worker: WorkerSlot) -> None:
        if worker.lease is None:
            return
        free = self.free(worker.lease_pool)
        for key, amount in worker.lease_demand.items():
            if key == "CPU" and worker.blocked:
                continue  # already given back while blocked
            free[key] = free.get(key, 0.0) + amount
        share = worker.lease_demand.get("GPU", 0.0)
        for gpu in worker.gpu_ids:
            self._gpu_free[gpu] = min(1.0, self._gpu_free[gpu] + (share if share < 1 else 1.0))
        worker.lease, worker.lease_demand, worker.gpu_ids = None, {}, []
        worker.lease_pool = None

    def finish(self, worker: WorkerSlot, task: Task) -> None:
        """``task`` left ``worker``; drop its lease when nothing of its shape is waiting."""
        worker.inflight.pop(task.task_id, None)
        task.worker = None
        if worker.actor is not None:
            return  # an actor's worker keeps its lease until the actor ends
        if not worker.inflight and not self._has_ready_shape(worker.lease):
            self.release_lease(worker)

    def _has_ready_shape(self, shape: Shape | None) -> bool:
        return shape is not None and bool(self._ready.get(shape))

    def block(self, worker: WorkerSlot) -> None:
        """The worker's task waits in ``get``: lend its CPUs to other tasks."""
        worker.blocked += 1
        if worker.blocked == 1:
            free = self.free(worker.lease_pool)
            free["CPU"] = free.get("CPU", 0.0) + worker.lease_demand.get("CPU", 0.0)

    def unblock(self, worker: WorkerSlot) -> None:
        worker.blocked -= 1
        if worker.blocked == 0:
            free = self.free(worker.lease_pool)
            free["CPU"] = free.get("CPU", 0.0) - worker.lease_demand.get("CPU", 0.0)

    def remove_worker(self, worker: WorkerSlot) -> list[Task]:
        """A worker died: free its resources; return the tasks it had."""
        worker.alive = False
        tasks = list(worker.inflight.values())
        worker.inflight.clear()
        self.release_lease(worker)
        worker.blocked = 0
        self.workers.pop(worker.index, None)
        return tasks

    def surplus_idle_workers(self) -> list[WorkerSlot]:
        if len(self.workers) <= self.max_idle_workers:
            return []
        idle = [w for w in self.workers.values()
                if w.alive and w.lease is None and not w.inflight and w.actor is None]
        return idle[self.max_idle_workers:]
