"""Which replicas to start and stop: a pure function of the deployment's replicas.

    target 2, code v2, replicas [v1 RUNNING, v1 RUNNING]
      -> start 2 v2 (if resources allow)           surge first: no capacity dip
      -> as each v2 is RUNNING, stop one v1        the proxy stops routing to it first,
                                                   then it drains and exits
    no room for a new replica -> stop one old replica first (a brief dip, no failures)
"""

from __future__ import annotations

from dataclasses import dataclass

from ._status import ReplicaState


@dataclass(frozen=True)
class ReplicaView:
    replica_id: str
    version: str
    state: ReplicaState


@dataclass(frozen=True)
class Plan:
    start: int
    stop: tuple[str, ...]


def plan(replicas: list[ReplicaView], version: str, target: int, room: int | None) -> Plan:
    """What to do now so that ``target`` replicas of ``version`` end up running.

    Args:
        replicas: every replica of the deployment, with its code version and state.
        version: the code version that should run.
        target: how many replicas should run.
        room: how many more replicas the cluster can place now (None: no limit).
    """
    active = [r for r in replicas if r.state != ReplicaState.STOPPING]
    new = [r for r in active if r.version == version]
    old = [r for r in active if r.version != version]
    new_running = [r for r in new if r.state == ReplicaState.RUNNING]
    stop: list[str] = []
    start = 0
    if len(new) > target:  # scale down: unstarted ones first, then the newest
        extra = len(new) - target
        ordered = [r for r in new if r.state == ReplicaState.STARTING][::-1] + new_running[::-1]
        stop += [r.replica_id for r in ordered[:extra]]
    elif len(new) < target:
        missing = target - len(new)
        start = missing if room is None else max(0, min(missing, room))
    keep_old = max(0, target - len(new_running))
    old_order = [r for r in old if r.state == ReplicaState.STARTING] + \
        [r for r in old if r.state == ReplicaState.RUNNING]
    retire = old_order[:max(0, len(old) - keep_old)]
    stop += [r.replica_id for r in retire]
    remaining_old = [r for r in old if r not in retire]
    new_starting = any(r.state == ReplicaState.STARTING for r in new)
    if start == 0 and len(new) < target and remaining_old and not new_starting:
        stop.append(remaining_old[0].replica_id)  # no room to surge: make room
    return Plan(start=start, stop=tuple(stop))


def room_for(available: dict[str, float], demand: dict[str, float]) -> int | None:
    """How many replicas needing ``demand`` fit in ``available`` (None: no limit)."""
    counts = [int((available.get(key, 0.0) + 1e-9) // amount)
              for key, amount in demand.items() if amount > 0]
    return min(counts) if counts else None
