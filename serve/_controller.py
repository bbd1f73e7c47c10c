"""The controller: one named actor that owns every application, replica and the proxy.

    serve.run ----deploy(specs)----> Controller ----creates----> Replica actors
    serve.status/delete/shutdown -->    |  reconcile thread, every 50 ms:
    handles ----get_replicas------->    |    wait(pending refs, timeout=0) -> tick each
    proxy ----replica_failed------->    |    deployment -> push routes to the proxy
                                        +----routes----> Proxy actor (uvicorn)

Calls from outside run on the actor's threads and take ``lock``; the reconcile thread
takes it for each tick, so state changes are serialized.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ember

from . import _client
from ._application import DeploymentSpec
from ._deployment_state import DeploymentState
from ._proxy import HTTPProxy
from ._rollout import room_for
from ._status import (
    ApplicationStatus,
    ApplicationStatusInfo,
    DeploymentStatus,
    ServeStatus,
)

TICK_S = 0.05


@dataclass
class AppState:
    name: str
    route_prefix: str | None
    ingress: str
    deployments: dict[str, DeploymentState] = field(default_factory=dict)
    deleting: bool = False
    was_running: bool = False


class Controller:
    """The actor class (``ember.remote(Controller)``, named, detached)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.apps: dict[str, AppState] = {}
        self.proxy: Any = None
        self.proxy_options: dict[str, Any] = {}
        self.proxy_port: int | None = None
        self.routes_sent: Any = None
        self.queued: dict[str, int] = {}
        self.queued_ref: Any = None
        self.stopped = threading.Event()
        threading.Thread(target=self._loop, name="ember-serve-reconcile", daemon=True).start()

    # -- calls from the driver --------------------------------------------------------------
    def deploy(self, name: str, route_prefix: str | None, ingress: str,
               specs: list[DeploymentSpec], http: dict[str, Any]) -> int | None:
        """Create or update application ``name``; returns the proxy's port (if any)."""
        with self.lock:
            for other in self.apps.values():
                if other.name != name and route_prefix is not None \
                        and other.route_prefix == route_prefix and not other.deleting:
                    raise ValueError(
                        f"route_prefix {route_prefix!r} is already used by application "
                        f"{other.name!r}; pick another route_prefix or delete that application")
            if route_prefix is not None:
                self._ensure_proxy(http)
            now = time.monotonic()
            app = self.apps.get(name)
            if app is None or app.deleting:
                app = self.apps[name] = AppState(name, route_prefix, ingress)
            app.route_prefix, app.ingress, app.was_running = route_prefix, ingress, False
            wanted = {spec.name for spec in specs}
            for dep_name, state in app.deployments.items():
                if dep_name not in wanted:
                    state.stop_all()
            for spec in specs:
                state = app.deployments.get(spec.name)
                if state is None or state.deleting:
                    app.deployments[spec.name] = DeploymentState(name, spec, now)
                else:
                    state.update(spec)
            self.routes_sent = None  # push at the next tick
            return self.proxy_port

    def _ensure_proxy(self, http: dict[str, Any]) -> None:
        if self.proxy is not None:
            if (http["host"], http["port"]) != (self.proxy_options["host"],
                                                self.proxy_options["port"]):
                raise ValueError(
                    f"the HTTP proxy already listens on {self.proxy_options['host']}:"
                    f"{self.proxy_options['port']}; every application shares it. Use the "
                    "same host/port, or serve.shutdown() first to move it")
            return
        proxy = ember.remote(HTTPProxy).options(
            num_cpus=0, max_restarts=0, name=_client.PROXY_NAME,
            namespace=_client.NAMESPACE).remote()
        try:
            self.proxy_port = ember.get(proxy.start.remote(
                http["host"], http["port"], http.get("request_timeout_s")))
        except BaseException:
            ember.kill(proxy)
            raise
        self.proxy, self.proxy_options = proxy, dict(http)

    def delete(self, name: str) -> None:
        with self.lock:
            app = self.apps.get(name)
            if app is not None:
                app.deleting = True
                for state in app.deployments.values():
                    state.stop_all()
                self.routes_sent = None

    def shutdown(self) -> None:
        """Stop every application, then the proxy (its port is closed on return)."""
        for name in list(self.apps):
            self.delete(name)
        deadline = time.monotonic() + 30
        while self.apps and time.monotonic() < deadline:
            time.sleep(TICK_S)
        with self.lock:
            self.stopped.set()
            for app in self.apps.values():
                for state in app.deployments.values():
                    for record in list(state.replicas.values()):
                        state._forget(record)
            proxy, self.proxy = self.proxy, None
        if proxy is not None:
            try:
                ember.get(proxy.stop.remote(), timeout=10)
            finally:
                ember.kill(proxy)

    def get_status(self) -> dict[str, Any]:
        with self.lock:
            return self._status().to_dict()

    def app_exists(self, name: str) -> bool:
        with self.lock:
            return name in self.apps

    def ingress_of(self, name: str) -> str:
        with self.lock:
            app = self.apps.get(name)
            if app is None or app.deleting:
                known = ", ".join(sorted(self.apps)) or "(none)"
                raise ValueError(f"no application named {name!r}; running: {known}")
            return app.ingress

    # -- calls from handles and the proxy ------------------------------------------------
    def get_replicas(self, app_name: str, deployment: str) -> list[tuple[str, Any]]:
        with self.lock:
            app = self.apps.get(app_name)
            state = app.deployments.get(deployment) if app else None
            if state is None:
                raise ValueError(
                    f"no deployment {deployment!r} in application {app_name!r}; it was "
                    "deleted or never deployed")
            return [(r.replica_id, r.actor) for r in state.running()]

    def replica_failed(self, app_name: str, deployment: str, replica_id: str) -> None:
        with self.lock:
            app = self.apps.get(app_name)
            state = app.deployments.get(deployment) if app else None
            if state is not None:
                state.check_soon(replica_id)

    # -- the reconcile loop ---------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - a bug here must not stop serving
                import traceback

                traceback.print_exc()
            time.sleep(max(0.0, TICK_S - (time.monotonic() - started)))

    def _tick(self) -> None:
        with self.lock:
            states = [s for app in self.apps.values() for s in app.deployments.values()]
            refs = [ref for state in states for ref in state.pending_refs()]
            if self.queued_ref is not None:
                refs.append(self.queued_ref)
        ready: set[Any] = set()
        if refs:
            ready = set(ember.wait(refs, num_returns=len(refs), timeout=0)[0])
        room_cache: dict[str, float] | None = None
        with self.lock:
            self._read_queue_lengths(ready)
            changed = False
            now = time.monotonic()
            for app in list(self.apps.values()):
                for name, state in list(app.deployments.items()):
                    if room_cache is None:
                        room_cache = ember.available_resources()
                    room = room_for(room_cache, state.spec.config.actor_resources_demand())
                    changed |= state.tick(now, ready, room,
                                          self.queued.get(f"{app.name}/{name}", 0))
                    if state.deleting and not state.replicas:
                        del app.deployments[name]
                if app.deleting and not app.deployments:
                    del self.apps[app.name]
                    changed = True
            if changed:
                self.routes_sent = None
            if self.routes_sent is None and self.proxy is not None:
                table = self._routes()
                ember.get(self.proxy.update.remote(table))
                self.routes_sent = table

    def _read_queue_lengths(self, ready: set[Any]) -> None:
        if self.queued_ref is not None and self.queued_ref in ready:
            try:
                self.queued = ember.get(self.queued_ref)
            except Exception:  # noqa: BLE001 - the proxy restarts or is gone
                self.queued = {}
            self.queued_ref = None
        if self.queued_ref is None and self.proxy is not None and any(
                s.spec.config.autoscaling_config is not None
                for app in self.apps.values() for s in app.deployments.values()):
            self.queued_ref = self.proxy.queue_lengths.remote()

    def _routes(self) -> list[dict[str, Any]]:
        table = []
        for app in self.apps.values():
            state = app.deployments.get(app.ingress)
            if app.deleting or app.route_prefix is None or state is None:
                continue
            table.append({
                "prefix": app.route_prefix, "app": app.name, "deployment": app.ingress,
                "max_ongoing": state.spec.max_ongoing,
                "max_queued": state.spec.config.max_queued_requests,
                "replicas": [(r.replica_id, r.info, r.actor) for r in state.running()]})
        return table

    def _status(self) -> ServeStatus:
        apps = {}
        for app in self.apps.values():
            deployments = {name: state.status() for name, state in app.deployments.items()}
            statuses = {d.status for d in deployments.values()}
            if app.deleting:
                status = ApplicationStatus.DELETING
            elif DeploymentStatus.DEPLOY_FAILED in statuses:
                status = ApplicationStatus.DEPLOY_FAILED
            elif statuses <= {DeploymentStatus.HEALTHY}:
                status = ApplicationStatus.RUNNING
                app.was_running = True
            elif app.was_running:
                status = ApplicationStatus.UNHEALTHY if DeploymentStatus.UNHEALTHY in statuses \
                    else ApplicationStatus.RUNNING
            else:
                status = ApplicationStatus.DEPLOYING
            message = "; ".join(d.message for d in deployments.values() if d.message)
            apps[app.name] = ApplicationStatusInfo(
                name=app.name, status=status, message=message, route_prefix=app.route_prefix,
                ingress=app.ingress, deployments=deployments)
        proxy = {"host": self.proxy_options.get("host"), "port": self.proxy_port} \
            if self.proxy is not None else {}
        return ServeStatus(applications=apps, proxy=proxy)
