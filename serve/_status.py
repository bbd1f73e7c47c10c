"""What ``serve.status()`` returns: applications, their deployments and replicas.

Statuses are string enums, so ``status.applications["default"].status == "RUNNING"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ApplicationStatus(enum.StrEnum):
    DEPLOYING = "DEPLOYING"
    RUNNING = "RUNNING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"


class DeploymentStatus(enum.StrEnum):
    UPDATING = "UPDATING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEPLOY_FAILED = "DEPLOY_FAILED"


class ReplicaState(enum.StrEnum):
    """A replica's life: STARTING -> RUNNING -> STOPPING (or STARTING -> STOPPING)."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"


REPLICA_TRANSITIONS: dict[ReplicaState, frozenset[ReplicaState]] = {
    ReplicaState.STARTING: frozenset({ReplicaState.RUNNING, ReplicaState.STOPPING}),
    ReplicaState.RUNNING: frozenset({ReplicaState.STOPPING}),
    ReplicaState.STOPPING: frozenset(),
}


@dataclass(frozen=True)
class DeploymentStatusInfo:
    name: str
    status: DeploymentStatus
    message: str = ""
    replica_states: dict[str, int] = field(default_factory=dict)
    """How many replicas are in each state, e.g. ``{"RUNNING": 2}``."""
    target_replicas: int = 0


@dataclass(frozen=True)
class ApplicationStatusInfo:
    name: str
    status: ApplicationStatus
    message: str = ""
    route_prefix: str | None = None
    ingress: str = ""
    deployments: dict[str, DeploymentStatusInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class ServeStatus:
    """``serve.status()``: every application by name, and where the proxy listens."""

    applications: dict[str, ApplicationStatusInfo] = field(default_factory=dict)
    proxy: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what ``ember serve status`` prints)."""
        return {
            "proxy": dict(self.proxy),
            "applications": {
                name: {"status": str(app.status), "message": app.message,
                       "route_prefix": app.route_prefix, "ingress": app.ingress,
                       "deployments": {
                           dname: {"status": str(dep.status), "message": dep.message,
                                   "replica_states": dict(dep.replica_states),
                                   "target_replicas": dep.target_replicas}
                           for dname, dep in app.deployments.items()}}
                for name, app in self.applications.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServeStatus:
        apps = {}
        for name, app in data.get("applications", {}).items():
            deployments = {
                dname: DeploymentStatusInfo(
                    name=dname, status=DeploymentStatus(dep["status"]), message=dep["message"],
                    replica_states=dep["replica_states"], target_replicas=dep["target_replicas"])
                for dname, dep in app["deployments"].items()}
            apps[name] = ApplicationStatusInfo(
                name=name, status=ApplicationStatus(app["status"]), message=app["message"],
                route_prefix=app["route_prefix"], ingress=app["ingress"], deployments=deployments)
        return cls(applications=apps, proxy=data.get("proxy", {}))
