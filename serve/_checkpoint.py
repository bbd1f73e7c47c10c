"""What a restarted controller needs to carry on where the dead one stopped.

The controller is restartable (``max_restarts=-1``); its replicas and proxy are
detached actors, so they keep serving while it is down. After every change it writes
two records to the engine's internal key-value store (which lives in the driver, or in
the Dask scheduler, not in the controller's process):

    apps     the applications: name, route prefix, ingress, deploy id, specs
             (written only on deploy and delete: specs hold the pickled code)
    runtime  running replicas (id, version, handle, info), the proxy (handle, address)
             and the actors that were starting or stopping (killed on restore)

A new controller reads them back only if they carry its own incarnation: a controller
created by a later ``serve.run`` (a new incarnation) starts empty even if a dead
session's records are still on the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cloudpickle
from ember.core.internal_kv import kv_get, kv_put

from ._application import DeploymentSpec

_APPS_KEY = "ember-serve/controller/apps"
_RUNTIME_KEY = "ember-serve/controller/runtime"


@dataclass
class SavedDeployment:
    spec: DeploymentSpec
    target: int
    deleting: bool


@dataclass
class SavedApp:
    name: str
    route_prefix: str | None
    ingress: str
    deploy_id: int
    deleting: bool
    deployments: list[SavedDeployment]


@dataclass
class SavedReplica:
    app: str
    deployment: str
    replica_id: str
    version: str
    actor: Any
    info: dict[str, Any] | None


@dataclass
class SavedRuntime:
    replicas: list[SavedReplica] = field(default_factory=list)
    doomed: list[Any] = field(default_factory=list)
    """Handles of replicas that were starting or stopping: a restored controller kills
    them (their start or drain call died with the old controller)."""
    targets: dict[tuple[str, str], int] = field(default_factory=dict)
    """Replicas wanted per (application, deployment): autoscaling moves it."""
    proxy: Any = None
    proxy_options: dict[str, Any] = field(default_factory=dict)
    proxy_port: int | None = None


def save_apps(incarnation: str, next_id: int, apps: list[SavedApp]) -> None:
    kv_put(_APPS_KEY, cloudpickle.dumps((incarnation, next_id, apps)))


def save_runtime(incarnation: str, runtime: SavedRuntime) -> None:
    kv_put(_RUNTIME_KEY, cloudpickle.dumps((incarnation, runtime)))


def load(incarnation: str) -> tuple[int, list[SavedApp], SavedRuntime] | None:
    """(next deploy id, applications, runtime) saved by this incarnation, or None."""
    apps_blob, runtime_blob = kv_get(_APPS_KEY), kv_get(_RUNTIME_KEY)
    if apps_blob is None:
        return None
    saved_by, next_id, apps = cloudpickle.loads(apps_blob)
    if saved_by != incarnation:
        return None
    runtime = SavedRuntime()
    if runtime_blob is not None:
        runtime_by, saved_runtime = cloudpickle.loads(runtime_blob)
        if runtime_by == incarnation:
            runtime = saved_runtime
    return next_id, apps, runtime


def clear() -> None:
    kv_put(_APPS_KEY, None)
    kv_put(_RUNTIME_KEY, None)
