"""Never a silent wait: say so when something cannot start because resources are held.

    every second (node I/O thread, lock held):
        waiting things (the oldest ready task of each resource shape, each unreserved
        placement group) + who holds what ──> WaitWatch.check(now) ──> warnings to log

A queue of tasks behind running tasks is normal and says nothing: running tasks give
their resources back when they finish. The warning is for a wait that only a long-lived
holder can end — actors and placement groups — which is how a program hangs silently
(a placement group holding every CPU, three 1-CPU replicas on two cores). Pure logic:
the caller collects the state and logs what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._remote_function import short_name
from .._resources import fits


@dataclass(frozen=True)
class Waiter:
    """Something that waits for resources."""

    key: Any          # stable while it waits (a resource shape, a group id)
    what: str         # "task 'train_step'", "actor 'Replica'", "placement group pg"
    demand: dict[str, float]
    since: float      # monotonic time it started waiting
    free: dict[str, float]            # what its pool has free now
    released_later: dict[str, float]  # what running tasks in its pool give back


@dataclass(frozen=True)
class Holder:
    """A long-lived holder of resources: an actor or a placement group."""

    what: str
    holds: dict[str, float]


@dataclass
class WaitWatch:
    """Warns once per waiting thing that waited ``after_s`` for held resources."""

    after_s: float
    warned: set[Any] = field(default_factory=set)

    def check(self, now: float, waiters: Iterable[Waiter], holders: list[Holder],
              total: dict[str, float]) -> list[str]:
        messages = []
        still_waiting = set()
        for waiter in waiters:
            still_waiting.add(waiter.key)
            if waiter.key in self.warned or now - waiter.since < self.after_s:
                continue
            if _would_fit(waiter):
                continue  # running tasks will make room: an ordinary queue
            self.warned.add(waiter.key)
            messages.append(describe(waiter, now, holders, total))
        self.warned &= still_waiting  # started (or gone): warn again if it waits again
        return messages


def _would_fit(waiter: Waiter) -> bool:
    room = dict(waiter.free)
    for key, amount in waiter.released_later.items():
        room[key] = room.get(key, 0.0) + amount
    return fits(room, waiter.demand)


def describe(waiter: Waiter, now: float, holders: list[Holder],
             total: dict[str, float]) -> str:
    """e.g. "task 'f' has waited 10 s for {CPU: 1}: CPU 0/2 free; placement group pg
    holds CPU 2/2. ...fix"."""
    needed = ", ".join(f"{k}: {v:g}" for k, v in sorted(waiter.demand.items()))
    free = "; ".join(
        f"{key} {waiter.free.get(key, 0.0):g}/{total.get(key, 0.0):g} free"
        for key in sorted(waiter.demand))
    relevant = [h for h in holders if any(h.holds.get(k, 0.0) > 0 for k in waiter.demand)]
    held = "; ".join(
        f"{h.what} holds " + ", ".join(
            f"{k} {h.holds[k]:g}/{total.get(k, 0.0):g}" for k in sorted(waiter.demand)
            if h.holds.get(k, 0.0) > 0)
        for h in relevant) or "nothing long-lived holds them"
    fixes = []
    if any(h.what.startswith("placement group") for h in relevant):
        fixes.append("remove a placement group (ember.remove_placement_group)")
    if any(h.what.startswith("actor") for h in relevant):
        fixes.append("end an actor (ember.kill)")
    fixes.append("ask for less, or start ember.init() with more")
    return (f"{waiter.what} has waited {now - waiter.since:.0f} s for {{{needed}}}: {free}; "
            f"{held}. It starts when they are released: {', '.join(fixes)}")


def collect(scheduler: Any, groups: dict[int, dict[str, Any]]) -> tuple[list[Waiter], list[Holder]]:
    """What waits and what holds, read off the scheduler and the placement groups."""
    holders = []
    for group_id, record in groups.items():
        if record["reserved"]:
            held: dict[str, float] = {}
            for bundle in record["bundles"]:
                for key, amount in bundle.items():
                    held[key] = held.get(key, 0.0) + amount
            holders.append(Holder(_group_name(group_id, record), held))
    for worker in scheduler.workers.values():
        if worker.actor is not None and worker.lease_demand and worker.lease_pool is None:
            pid = f" (pid {worker.pid})" if worker.pid else ""
            holders.append(Holder(f"{worker.actor.label}{pid}", dict(worker.lease_demand)))
    waiters = []
    for task in scheduler.oldest_waiting():
        pool = scheduler.pool_for(task)
        if pool is False:
            continue  # its placement group is not reserved yet: the group's wait is told
        kind = "actor" if task.creates_actor else "task"
        waiters.append(Waiter(
            key=task.shape, what=f"{kind} {short_name(task.name)!r}", demand=task.demand,
            since=task.ready_since, free=dict(scheduler.free(pool)),
            released_later=scheduler.released_when_tasks_finish(pool)))
    for group_id, record in groups.items():
        if not record["reserved"]:
            demand: dict[str, float] = {}
            for bundle in record["bundles"]:
                for key, amount in bundle.items():
                    demand[key] = demand.get(key, 0.0) + amount
            waiters.append(Waiter(
                key=("group", group_id), what=_group_name(group_id, record), demand=demand,
                since=record["since"], free=dict(scheduler.available),
                released_later=scheduler.released_when_tasks_finish(None)))
    return waiters, holders


def _group_name(group_id: int, record: dict[str, Any]) -> str:
    name = record.get("name")
    return f"placement group {name!r}" if name else f"placement group {group_id:x} {record['bundles']}"
