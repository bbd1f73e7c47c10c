"""One deployment's replicas as the controller sees them, moved along by ``tick``.

Each tick (every few tens of milliseconds) the controller hands over the refs that
became ready; this module turns them into state changes:

    start ref ready     -> RUNNING (or a failed start: retried, DEPLOY_FAILED after 3)
    health ref ready    -> healthy; an error or a timeout -> replaced at once
    ongoing ref ready   -> load for the autoscaling policy
    STOPPING, drained   -> killed and forgotten

then asks ``_rollout.plan`` what to start and stop. A replica leaves the proxy's routes
(STOPPING) one tick before it is asked to drain, so no new request reaches it.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import ember

from ._application import DeploymentSpec
from ._autoscaling import ScalingState, decide
from ._replica import Replica
from ._rollout import ReplicaView, plan
from ._status import (
    REPLICA_TRANSITIONS,
    DeploymentStatus,
    DeploymentStatusInfo,
    ReplicaState,
)

START_ATTEMPTS = 3
_replica_class: Any = None


def _actor_class() -> Any:
    global _replica_class
    if _replica_class is None:
        _replica_class = ember.remote(Replica)
    return _replica_class


@dataclass
class ReplicaRecord:
    replica_id: str
    version: str
    actor: Any
    start_ref: Any
    state: ReplicaState = ReplicaState.STARTING
    info: dict[str, Any] | None = None
    health_ref: Any = None
    health_sent: float = 0.0
    last_check: float = 0.0
    ongoing_ref: Any = None
    ongoing: int = 0
    drain_ref: Any = None
    drain_deadline: float = 0.0
    graceful: bool = True

    def move(self, state: ReplicaState) -> None:
        if state not in REPLICA_TRANSITIONS[self.state]:
            raise RuntimeError(f"replica {self.replica_id}: {self.state} -> {state} is not allowed")
        self.state = state

    def pending_refs(self) -> list[Any]:
        return [ref for ref in (self.start_ref, self.health_ref, self.ongoing_ref,
                                self.drain_ref) if ref is not None]


class DeploymentState:
    def __init__(self, app: str, spec: DeploymentSpec, now: float):
        self.app = app
        self.spec = spec
        self.replicas: dict[str, ReplicaRecord] = {}
        self.target = spec.config.start_replicas()
        self.scaling = ScalingState()
        self.next_metrics = now
        self.failures = 0
        self.failed_message = ""
        self.unhealthy_message = ""
        self.deleting = False
        self.unplaced_since: float | None = None  # replicas wanted that do not fit
        self.unplaced_message = ""

    @property
    def name(self) -> str:
        return self.spec.name

    # -- changes from deploy/delete -------------------------------------------------------
    def update(self, spec: DeploymentSpec) -> None:
        old, self.spec = self.spec, spec
        scaling = spec.config.autoscaling_config
        if scaling is None:
            self.target = spec.config.num_replicas
        elif old.config.autoscaling_config is None:
            self.target = scaling.start_replicas
        else:
            self.target = max(scaling.min_replicas, min(scaling.max_replicas, self.target))
        if spec.code_version != old.code_version:
            self.failures, self.failed_message = 0, ""
        elif spec.config.user_config != old.config.user_config:
            for record in self.replicas.values():
                if record.state == ReplicaState.RUNNING:
                    record.actor.reconfigure.remote(spec.config.user_config)

    def adopt(self, replica_id: str, version: str, actor: Any, info: dict[str, Any] | None
              ) -> None:
        """Take over a replica that a previous controller started (it is health-checked
        on the next tick)."""
        self.replicas[replica_id] = ReplicaRecord(
            replica_id, version, actor, None, ReplicaState.RUNNING, info,
            last_check=float("-inf"))

    def stop_all(self) -> None:
        self.deleting = True
        self.target = 0
        for record in self.replicas.values():
            if record.state != ReplicaState.STOPPING:
                record.move(ReplicaState.STOPPING)

    # -- the tick -------------------------------------------------------------------------
    def pending_refs(self) -> list[Any]:
        return [ref for record in self.replicas.values() for ref in record.pending_refs()]

    def tick(self, now: float, ready: set[Any], room: int | None, queued: int,
             available: dict[str, float] | None = None) -> bool:
        """Advance every replica; True when the set of routable replicas changed.
        ``room``: how many more replicas fit in the ``available`` resources."""
        changed = False
        for record in list(self.replicas.values()):
            changed |= self._advance(record, now, ready)
        self._autoscale(now, queued)
        if not self.deleting:
            changed |= self._apply_plan(room)
            self._note_unplaced(now, room, available or {})
        return changed

    def _note_unplaced(self, now: float, room: int | None, available: dict[str, float]) -> None:
        """Remember since when replicas are wanted that the cluster has no room for."""
        pending = [r for r in self.replicas.values()
                   if r.version == self.spec.code_version and r.state != ReplicaState.STOPPING]
        unplaced = self.target - len(pending)
        if unplaced <= 0 or room is None or self.failed_message:
            self.unplaced_since, self.unplaced_message = None, ""
            return
        if self.unplaced_since is None:
            self.unplaced_since = now
        demand = {k: v for k, v in self.spec.config.actor_resources_demand().items() if v}
        free = {k: round(available.get(k, 0.0), 3) for k in demand}
        self.unplaced_message = (
            f"{unplaced} of {self.target} replicas of {self.name!r} cannot be placed: each "
            f"needs {demand}, free now: {free}; lower num_replicas or the replica's "
            "ray_actor_options, or free those resources")

    def _advance(self, record: ReplicaRecord, now: float, ready: set[Any]) -> bool:
        if record.state == ReplicaState.STARTING and record.start_ref in ready:
            return self._started(record, now)
        if record.state == ReplicaState.RUNNING:
            return self._check(record, now, ready)
        if record.state == ReplicaState.STOPPING:
            self._stop(record, now, ready)
        return False

    def _started(self, record: ReplicaRecord, now: float) -> bool:
        ref, record.start_ref = record.start_ref, None
        try:
            record.info = ember.get(ref)
        except Exception as error:  # noqa: BLE001 - the constructor or start failed
            self.failures += 1
            if self.failures >= START_ATTEMPTS:
                self.failed_message = (
                    f"deployment {self.name!r} failed to start {self.failures} replicas; "
                    f"last error: {_short(error)}")
            self._forget(record)
            return False
        record.move(ReplicaState.RUNNING)
        record.last_check = now
        self.failures = 0
        return True

    def _check(self, record: ReplicaRecord, now: float, ready: set[Any]) -> bool:
        config = self.spec.config
        if record.ongoing_ref is not None and record.ongoing_ref in ready:
            with contextlib.suppress(Exception):  # the health check says what happened
                record.ongoing = ember.get(record.ongoing_ref)
            record.ongoing_ref = None
        if record.health_ref is not None:
            if record.health_ref in ready:
                ref, record.health_ref = record.health_ref, None
                try:
                    ember.get(ref)
                except Exception as error:  # noqa: BLE001 - any failure: replace it
                    return self._replace(record, f"health check failed: {_short(error)}")
                record.last_check = now
            elif now - record.health_sent > config.health_check_timeout_s:
                return self._replace(
                    record, f"health check took longer than {config.health_check_timeout_s}s")
        elif now - record.last_check >= config.health_check_period_s:
            record.health_ref = record.actor.check_health.remote()
            record.health_sent = now
        return False

    def check_soon(self, replica_id: str) -> None:
        """Someone saw this replica fail: health-check it on the next tick."""
        record = self.replicas.get(replica_id)
        if record is not None and record.state == ReplicaState.RUNNING:
            record.last_check = float("-inf")

    def _replace(self, record: ReplicaRecord, why: str) -> bool:
        self.unhealthy_message = f"replica {record.replica_id} replaced: {why}"
        record.graceful = False
        record.move(ReplicaState.STOPPING)
        return True

    def _stop(self, record: ReplicaRecord, now: float, ready: set[Any]) -> None:
        if not record.graceful or record.info is None:
            self._forget(record)
        elif record.drain_ref is None:
            timeout = self.spec.config.graceful_shutdown_timeout_s
            record.drain_ref = record.actor.drain.remote(timeout)
            record.drain_deadline = now + timeout + 5.0
        elif record.drain_ref in ready or now > record.drain_deadline:
            self._forget(record)

    def _forget(self, record: ReplicaRecord) -> None:
        self.replicas.pop(record.replica_id, None)
        with contextlib.suppress(Exception):  # already gone
            ember.kill(record.actor)

    def _autoscale(self, now: float, queued: int) -> None:
        scaling = self.spec.config.autoscaling_config
        if scaling is None or self.deleting or now < self.next_metrics:
            return
        self.next_metrics = now + scaling.metrics_interval_s
        running = [r for r in self.replicas.values() if r.state == ReplicaState.RUNNING]
        total = sum(r.ongoing for r in running) + queued
        self.target, self.scaling = decide(scaling, self.scaling, now, self.target, total)
        for record in running:
            if record.ongoing_ref is None:
                record.ongoing_ref = record.actor.get_ongoing.remote()

    def _apply_plan(self, room: int | None) -> bool:
        if self.failed_message:
            room = 0  # stop retrying a deployment whose replicas cannot start
        views = [ReplicaView(r.replica_id, r.version, r.state) for r in self.replicas.values()]
        decision = plan(views, self.spec.code_version, self.target, room)
        for replica_id in decision.stop:
            self.replicas[replica_id].move(ReplicaState.STOPPING)
        for _ in range(decision.start):
            self._start_one()
        return bool(decision.stop)

    def _start_one(self) -> None:
        spec = self.spec
        replica_id = f"{spec.name}#{uuid.uuid4().hex[:6]}"
        # Detached: a replica keeps serving while a dead controller is restarted.
        actor = _actor_class().options(max_restarts=0, lifetime="detached",
                                       **spec.config.actor_resources()).remote(
            self.app, spec.name, replica_id, spec.blob, spec.is_function)
        record = ReplicaRecord(replica_id, spec.code_version, actor,
                               actor.start.remote(spec.config.user_config))
        self.replicas[replica_id] = record

    # -- views --------------------------------------------------------------------------
    def running(self) -> list[ReplicaRecord]:
        return [r for r in self.replicas.values() if r.state == ReplicaState.RUNNING]

    def status(self) -> DeploymentStatusInfo:
        counts: dict[str, int] = {}
        for record in self.replicas.values():
            counts[str(record.state)] = counts.get(str(record.state), 0) + 1
        running_new = [r for r in self.running() if r.version == self.spec.code_version]
        others = [r for r in self.replicas.values()
                  if r.version != self.spec.code_version and r.state != ReplicaState.STOPPING]
        autoscaling = self.spec.config.autoscaling_config is not None
        enough = (len(running_new) >= 1 or self.target == 0) if autoscaling \
            else len(running_new) >= self.target
        if self.failed_message:
            status, message = DeploymentStatus.DEPLOY_FAILED, self.failed_message
        elif enough and not others:
            status, message = DeploymentStatus.HEALTHY, ""
            self.unhealthy_message = ""
        elif self.unhealthy_message:
            status, message = DeploymentStatus.UNHEALTHY, self.unhealthy_message
        else:
            status, message = DeploymentStatus.UPDATING, self.unplaced_message
        return DeploymentStatusInfo(name=self.name, status=status, message=message,
                                    replica_states=counts, target_replicas=self.target)


def _short(error: BaseException) -> str:
    text = str(error).strip()
    return text if len(text) < 2000 else text[:2000] + " ..."
