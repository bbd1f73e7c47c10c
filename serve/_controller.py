"""The controller: one named actor that owns every application, replica and the proxy.

    serve.run ----deploy(specs)----> Controller ----creates----> Replica actors
    serve.delete/shutdown -------->     | commands queue
    proxy ----replica_failed------>     v
                                   reconcile thread, every 50 ms:
                                     apply commands -> wait(pending refs, timeout=0)
                                     -> tick each deployment -> push routes to the proxy
                                     -> publish snapshots
    serve.status, handles  <------ snapshots (status, replica lists), read without waiting

Only the reconcile thread changes state or calls other actors (method threads queue
commands and read snapshots), and it holds no lock while it calls: on the Dask backend
a call made inside a worker waits for its result, so a call made under a lock that the
callee's own calls need (a replica's constructor fetching the replica list of a
handle) would deadlock.

The controller is restartable and saves its state after every change (``_checkpoint``):
when its process dies, the engine starts it again, it reads that state back, adopts
the running replicas and the proxy (detached actors, which kept serving meanwhile) and
carries on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ember

from . import _checkpoint, _client
from ._application import DeploymentSpec
from ._deployment_state import DeploymentState
from ._proxy import HTTPProxy
from ._rollout import room_for
from ._status import (
    ApplicationStatus,
    ApplicationStatusInfo,
    DeploymentStatus,
    ReplicaState,
    ServeStatus,
)

TICK_S = 0.05
PROXY_CHECK_S = 0.2
"""How often the controller makes sure the proxy process lives."""


@dataclass
class AppState:
    name: str
    route_prefix: str | None
    ingress: str
    deploy_id: int = 0
    deployments: dict[str, DeploymentState] = field(default_factory=dict)
    deleting: bool = False
    was_running: bool = False


class Controller:
    """The actor class (``ember.remote(Controller)``, named, detached, restartable).

    ``incarnation`` is unique per created controller and the same across its restarts:
    a restart reads back the state its earlier life saved.
    """

    def __init__(self, incarnation: str = "") -> None:
        self.incarnation = incarnation
        self.commands: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.apps: dict[str, AppState] = {}  # the reconcile thread's own
        self.status_snapshot: dict[str, Any] = ServeStatus().to_dict()
        self.deploy_ids: dict[str, int] = {}
        self.unplaced_since: dict[str, float] = {}
        self.replica_snapshot: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        self.lock = threading.Lock()  # guards `prefixes` and the id counter
        self.prefixes: dict[str, str | None] = {}  # accepted applications -> route prefix
        self.next_id = 1
        self.proxy: Any = None
        self.proxy_options: dict[str, Any] = {}
        self.proxy_port: int | None = None
        self.routes_sent: Any = None
        self.queued: dict[str, int] = {}
        self.queued_ref: Any = None
        self.proxy_check: Any = None  # a pending call that tells whether the proxy lives
        self.proxy_checked_at = 0.0
        self.stopped = threading.Event()
        self.saved: tuple[Any, Any] = (None, None)  # what the checkpoint holds now
        self._restore()
        self.thread = threading.Thread(target=self._loop, name="ember-serve-reconcile",
                                       daemon=True)
        self.thread.start()

    # -- calls from the driver ----------------------------------------------------------------
    def deploy(self, name: str, route_prefix: str | None, ingress: str,
               specs: list[DeploymentSpec], http: dict[str, Any]) -> int:
        """Accept application ``name`` (new or updated); returns its deploy id, which
        ``get_app_state`` reports once the reconcile thread has applied it."""
        with self.lock:
            for other, prefix in self.prefixes.items():
                if other != name and route_prefix is not None and prefix == route_prefix:
                    raise ValueError(
                        f"route_prefix {route_prefix!r} is already used by application "
                        f"{other!r}; pick another route_prefix or delete that application")
            deploy_id = self.next_id
            self.next_id += 1
            accepted: concurrent.futures.Future[None] = concurrent.futures.Future()
            self.commands.put(("deploy", accepted, deploy_id, name, route_prefix, ingress,
                               specs, http))
            accepted.result()  # raises if the proxy cannot start (e.g. the port is taken)
            self.prefixes[name] = route_prefix
        return deploy_id

    def _ensure_proxy(self, http: dict[str, Any], routes: list[dict[str, Any]] | None = None
                      ) -> None:
        """Start the HTTP proxy unless it runs; ``routes`` (when healing a dead one) are
        in place before it listens, so no request finds an empty route table."""
        if self.proxy is not None:
            if (http["host"], http["port"]) != (self.proxy_options["host"],
                                                self.proxy_options["port"]):
                raise ValueError(
                    f"the HTTP proxy already listens on {self.proxy_options['host']}:"
                    f"{self.proxy_options['port']}; every application shares it. Use the "
                    "same host/port, or serve.shutdown() first to move it")
            return
        proxy = ember.remote(HTTPProxy).options(
            num_cpus=0, max_restarts=0, lifetime="detached", name=_client.PROXY_NAME,
            namespace=_client.NAMESPACE).remote()
        try:
            if routes:
                ember.get(proxy.update.remote(routes))
            self.proxy_port = ember.get(proxy.start.remote(
                http["host"], http["port"], http.get("request_timeout_s"),
                http.get("max_body"), http.get("max_header")))
        except BaseException:
            ember.kill(proxy)
            raise
        self.proxy, self.proxy_options = proxy, dict(http)
        self.routes_sent = None

    def delete(self, name: str) -> None:
        with self.lock:
            self.prefixes.pop(name, None)
        self.commands.put(("delete", name))

    def shutdown(self) -> None:
        """Stop every application, then the proxy (its port is closed on return)."""
        with self.lock:
            names = list(self.prefixes)
            self.prefixes.clear()
        for name in names:
            self.commands.put(("delete", name))
        deadline = time.monotonic() + 30
        while (self.status_snapshot["applications"] or not self.commands.empty()) \
                and time.monotonic() < deadline:
            time.sleep(TICK_S)
        stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.commands.put(("shutdown", stopped))
        stopped.result(timeout=60)

    def _shutdown(self) -> None:
        """In the reconcile thread: stop what is left, then the proxy. The controller
        itself stays, idle, for the next ``serve.run`` (on Dask a killed named actor
        keeps its name, so a new one could not take it)."""
        for app in self.apps.values():  # whatever did not stop in time
            for state in app.deployments.values():
                for record in list(state.replicas.values()):
                    state._forget(record)
        self.apps.clear()
        proxy, self.proxy = self.proxy, None
        self.proxy_options, self.proxy_port, self.routes_sent = {}, None, None
        self.queued, self.queued_ref, self.proxy_check = {}, None, None
        self._publish()
        _checkpoint.clear()
        self.saved = (None, None)
        if proxy is not None:
            try:
                ember.get(proxy.stop.remote(), timeout=10)
            finally:
                ember.kill(proxy)

    def get_status(self) -> dict[str, Any]:
        return self.status_snapshot

    def process_id(self) -> int:
        """This controller's pid (for diagnostics)."""
        return os.getpid()

    def get_app_state(self, name: str) -> tuple[int, str, str, float] | None:
        """(last applied deploy id, status, message, seconds it has had replicas that
        cannot be placed) of application ``name``."""
        app = self.status_snapshot["applications"].get(name)
        if app is None:
            return None
        since = self.unplaced_since.get(name)
        unplaced_s = 0.0 if since is None else time.monotonic() - since
        return self.deploy_ids.get(name, 0), app["status"], app["message"], unplaced_s

    def app_exists(self, name: str) -> bool:
        return name in self.status_snapshot["applications"]

    def ingress_of(self, name: str) -> str:
        app = self.status_snapshot["applications"].get(name)
        if app is None or app["status"] == ApplicationStatus.DELETING:
            known = ", ".join(sorted(self.status_snapshot["applications"])) or "(none)"
            raise ValueError(f"no application named {name!r}; running: {known}")
        return str(app["ingress"])

    # -- calls from handles and the proxy ------------------------------------------------
    def get_replicas(self, app_name: str, deployment: str) -> list[tuple[str, Any]]:
        replicas = self.replica_snapshot.get((app_name, deployment))
        if replicas is None:
            raise ValueError(
                f"no deployment {deployment!r} in application {app_name!r}; it was "
                "deleted or never deployed")
        return replicas

    def replica_failed(self, app_name: str, deployment: str, replica_id: str) -> None:
        self.commands.put(("failed", app_name, deployment, replica_id))

    # -- the reconcile thread ----------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - a bug here must not stop serving
                import traceback

                traceback.print_exc()
            time.sleep(max(0.0, TICK_S - (time.monotonic() - started)))

    def _apply_commands(self, now: float) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command[0] == "deploy":
                accepted, http = command[1], command[-1]
                try:
                    if command[4] is not None:  # a route prefix: the proxy must run
                        self._ensure_proxy(http)
                except BaseException as error:  # noqa: BLE001 - the caller gets it
                    accepted.set_exception(error)
                    continue
                self._apply_deploy(now, *command[2:-1])
                accepted.set_result(None)
            elif command[0] == "shutdown":
                try:
                    self._shutdown()
                finally:
                    command[1].set_result(None)
                return
            elif command[0] == "delete":
                app = self.apps.get(command[1])
                if app is not None:
                    app.deleting = True
                    for state in app.deployments.values():
                        state.stop_all()
            else:
                _, app_name, deployment, replica_id = command
                app = self.apps.get(app_name)
                state = app.deployments.get(deployment) if app else None
                if state is not None:
                    state.check_soon(replica_id)
            self.routes_sent = None

    def _apply_deploy(self, now: float, deploy_id: int, name: str, route_prefix: str | None,
                      ingress: str, specs: list[DeploymentSpec]) -> None:
        app = self.apps.get(name)
        if app is None or app.deleting:
            app = self.apps[name] = AppState(name, route_prefix, ingress)
        app.route_prefix, app.ingress, app.was_running = route_prefix, ingress, False
        app.deploy_id = deploy_id
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

    def _tick(self) -> None:
        self._apply_commands(time.monotonic())
        if self.stopped.is_set():
            return
        states = [s for app in self.apps.values() for s in app.deployments.values()]
        refs = [ref for state in states for ref in state.pending_refs()]
        refs += [ref for ref in (self.queued_ref, self.proxy_check) if ref is not None]
        ready: set[Any] = set(ember.wait(refs, num_returns=len(refs), timeout=0)[0]) \
            if refs else set()
        self._read_queue_lengths(ready)
        self._heal_proxy(ready)
        available = ember.available_resources() if states else {}
        changed = False
        now = time.monotonic()
        for app in list(self.apps.values()):
            for name, state in list(app.deployments.items()):
                room = room_for(available, state.spec.config.actor_resources_demand())
                changed |= state.tick(now, ready, room, self.queued.get(f"{app.name}/{name}", 0),
                                      available)
                if state.deleting and not state.replicas:
                    del app.deployments[name]
            if app.deleting and not app.deployments:
                del self.apps[app.name]
                changed = True
        if changed:
            self.routes_sent = None
        proxy = self.proxy
        if self.routes_sent is None and proxy is not None:
            table = self._routes()
            with contextlib.suppress(Exception):  # the proxy is stopping (shutdown)
                ember.get(proxy.update.remote(table), timeout=30)
            self.routes_sent = table
        self._publish()
        self._checkpoint()

    def _heal_proxy(self, ready: set[Any]) -> None:
        """A proxy whose process died is started again on the same address, with the
        current routes (a few requests fail while it is down: they find no listener)."""
        if self.proxy_check is not None and self.proxy_check in ready:
            check, self.proxy_check = self.proxy_check, None
            try:
                ember.get(check)
            except ember.ActorDiedError:
                print("ember.serve: the HTTP proxy died; starting a new one on "
                      f"{self.proxy_options.get('host')}:{self.proxy_options.get('port')}",
                      flush=True)
                self.proxy, self.queued_ref = None, None
            except Exception:  # noqa: BLE001,S110 - busy or stopping: look again next time
                pass
        if self.proxy is None and self.proxy_options and not self.stopped.is_set():
            options = dict(self.proxy_options)
            options["port"] = self.proxy_port or options["port"]  # port 0: keep the one chosen
            try:
                self._ensure_proxy(options, self._routes())
            except Exception as error:  # noqa: BLE001 - e.g. the port is not free yet
                print(f"ember.serve: the HTTP proxy could not start again yet: {error}",
                      flush=True)
            self.routes_sent = None
        now = time.monotonic()
        if self.proxy is not None and self.proxy_check is None and \
                now - self.proxy_checked_at >= PROXY_CHECK_S:
            self.proxy_checked_at = now
            self.proxy_check = self.proxy.queue_lengths.remote()

    def _read_queue_lengths(self, ready: set[Any]) -> None:
        if self.queued_ref is not None and self.queued_ref in ready:
            try:
                self.queued = ember.get(self.queued_ref)
            except Exception:  # noqa: BLE001 - the proxy is gone
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

    def _publish(self) -> None:
        """Swap in fresh snapshots (whole objects: readers never see a half-made one)."""
        self.replica_snapshot = {
            (app.name, name): [(r.replica_id, r.actor) for r in state.running()]
            for app in self.apps.values() for name, state in app.deployments.items()}
        self.deploy_ids = {app.name: app.deploy_id for app in self.apps.values()}
        self.unplaced_since = {
            app.name: min(times) for app in self.apps.values()
            if (times := [s.unplaced_since for s in app.deployments.values()
                          if s.unplaced_since is not None])}
        self.status_snapshot = self._status().to_dict()

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

    # -- surviving a restart ------------------------------------------------------------
    def _checkpoint(self) -> None:
        """Save what changed since the last save (specs only on deploy and delete)."""
        apps_key = tuple((app.name, app.deploy_id, app.deleting,
                          tuple((n, s.deleting) for n, s in app.deployments.items()))
                         for app in self.apps.values())
        runtime_key = (tuple((app.name, n, s.target, tuple(
                           (r.replica_id, str(r.state)) for r in s.replicas.values()))
                             for app in self.apps.values() for n, s in app.deployments.items()),
                       id(self.proxy), self.proxy_port)
        if apps_key != self.saved[0]:
            _checkpoint.save_apps(self.incarnation, self.next_id, [
                _checkpoint.SavedApp(app.name, app.route_prefix, app.ingress, app.deploy_id,
                                     app.deleting, [
                                         _checkpoint.SavedDeployment(s.spec, s.target, s.deleting)
                                         for s in app.deployments.values()])
                for app in self.apps.values()])
        if runtime_key != self.saved[1]:
            runtime = _checkpoint.SavedRuntime(
                proxy=self.proxy, proxy_options=self.proxy_options, proxy_port=self.proxy_port)
            for app in self.apps.values():
                for name, state in app.deployments.items():
                    runtime.targets[(app.name, name)] = state.target
                    for r in state.replicas.values():
                        if r.state == ReplicaState.RUNNING:
                            runtime.replicas.append(_checkpoint.SavedReplica(
                                app.name, name, r.replica_id, r.version, r.actor, r.info))
                        else:
                            runtime.doomed.append(r.actor)
            _checkpoint.save_runtime(self.incarnation, runtime)
        self.saved = (apps_key, runtime_key)

    def _restore(self) -> None:
        """After a restart: take back the applications, replicas and proxy."""
        saved = _checkpoint.load(self.incarnation) if self.incarnation else None
        if saved is None:
            return
        self.next_id, apps, runtime = saved
        now = time.monotonic()
        for app in apps:
            state = self.apps[app.name] = AppState(app.name, app.route_prefix, app.ingress,
                                                   app.deploy_id, deleting=app.deleting)
            for saved_deployment in app.deployments:
                deployment = DeploymentState(app.name, saved_deployment.spec, now)
                deployment.target = runtime.targets.get(
                    (app.name, deployment.name), saved_deployment.target)
                state.deployments[deployment.name] = deployment
            if not app.deleting:
                self.prefixes[app.name] = app.route_prefix
        for replica in runtime.replicas:
            app_state = self.apps.get(replica.app)
            deployment = app_state.deployments.get(replica.deployment) if app_state else None
            if deployment is None:
                runtime.doomed.append(replica.actor)
                continue
            deployment.adopt(replica.replica_id, replica.version, replica.actor, replica.info)
        for app_state in self.apps.values():
            for deployment in app_state.deployments.values():
                if app_state.deleting or deployment.deleting:
                    deployment.stop_all()
        for actor in runtime.doomed:
            with contextlib.suppress(Exception):  # already gone
                ember.kill(actor)
        self.proxy, self.proxy_options = runtime.proxy, dict(runtime.proxy_options)
        self.proxy_port = runtime.proxy_port
        print(f"ember.serve: the controller restarted; took back {len(self.apps)} "
              f"application(s) and {len(runtime.replicas)} running replica(s)", flush=True)
        self._publish()
