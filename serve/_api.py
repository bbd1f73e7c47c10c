"""The driver's serve calls: run, status, delete, get_app_handle, shutdown.

Each one is a call to the controller actor (started by the first ``run``); ``run``
then waits until the application is RUNNING, so the returned handle works at once.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from typing import Any

from ember.core import settings

import ember

from . import _client
from ._application import Application, flatten
from ._controller import Controller
from ._handle import DeploymentHandle, forget_routers
from ._status import ApplicationStatus, ServeStatus

_POLL_S = 0.02


def _check_args(name: Any, route_prefix: Any, host: Any, port: Any, blocking: Any,
                request_timeout_s: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if route_prefix is not None:
        if not isinstance(route_prefix, str) or not route_prefix.startswith("/"):
            raise ValueError(
                f"route_prefix must be a path starting with '/', such as '/' or '/api' "
                f"(or None for no HTTP route), got {route_prefix!r}")
        if route_prefix != "/" and route_prefix.endswith("/"):
            raise ValueError(
                f"route_prefix must not end with '/', got {route_prefix!r}; use "
                f"{route_prefix.rstrip('/')!r}")
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be an address string such as '127.0.0.1', got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535 (0: any free port), got {port!r}")
    if not isinstance(blocking, bool):
        raise TypeError(f"blocking must be True or False, got {blocking!r}")
    if request_timeout_s is not None and (
            isinstance(request_timeout_s, bool) or not isinstance(request_timeout_s, (int, float))
            or math.isnan(request_timeout_s) or request_timeout_s <= 0):
        raise ValueError(
            f"request_timeout_s must be a positive number of seconds or None, got "
            f"{request_timeout_s!r}")


DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
"""A request body the proxy accepts before answering 413 (a model input, not an upload)."""
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
"""The request line plus headers the proxy accepts before answering 431."""


def _check_limit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int number of bytes, got {value!r}")


def _controller() -> Any:
    if not ember.is_initialized():
        ember.init()
    # Restartable: its state is saved outside its process (see _checkpoint); the
    # incarnation tells a restart of this controller from a later, new one.
    return ember.remote(Controller).options(
        name=_client.CONTROLLER_NAME, namespace=_client.NAMESPACE, lifetime="detached",
        get_if_exists=True, num_cpus=0, max_concurrency=32, max_restarts=-1,
        max_task_retries=-1).remote(uuid.uuid4().hex)


def run(app: Application, name: str = "default", route_prefix: str | None = "/",
        host: str = "127.0.0.1", port: int = 8000, blocking: bool = False, *,
        request_timeout_s: float | None = None,
        max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_request_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> DeploymentHandle:
    """Deploy ``app`` (or update it, rolling its replicas) and serve it over HTTP.

    Args:
        app: ``MyDeployment.bind(...)``.
        name: the application's name (a new one adds an application; the same name
            updates it).
        route_prefix: HTTP requests whose path starts with it go to this application
            (None: reachable through handles only).
        host / port: where the HTTP proxy listens (shared by every application; the
            default binds loopback only).
        blocking: serve until Ctrl-C, then shut down.
        request_timeout_s: answer 408 to a request not answered within this time.
        max_request_body_bytes: answer 413 to a larger body (100 MiB by default), read
            no further than that (a Content-Length above it is refused unread).
        max_request_header_bytes: answer 431 to a request line plus headers larger
            than this (64 KiB by default).
        The HTTP options (host, port and these) belong to the one proxy every
        application shares: they take effect when it starts.

    Returns:
        A DeploymentHandle to the ingress deployment.

    Raises:
        RuntimeError: a deployment failed to start (the message holds its error).

    Example::

        handle = serve.run(Echo.bind(), port=8000)
        httpx.get("http://127.0.0.1:8000/")
        serve.shutdown()
    """
    _check_args(name, route_prefix, host, port, blocking, request_timeout_s)
    _check_limit("max_request_body_bytes", max_request_body_bytes)
    _check_limit("max_request_header_bytes", max_request_header_bytes)
    ingress, specs = flatten(app, name)
    controller = _controller()
    forget_routers()
    http = {"host": host, "port": port, "request_timeout_s": request_timeout_s,
            "max_body": max_request_body_bytes, "max_header": max_request_header_bytes}
    deploy_id = ember.get(controller.deploy.remote(name, route_prefix, ingress, specs, http))
    _wait_until_running(name, deploy_id)
    handle = DeploymentHandle._make(name, ingress)
    if blocking:
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            shutdown()
    return handle


def _wait_until_running(name: str, deploy_id: int) -> None:
    """Until the application runs; a warning once replicas have waited a while for room,
    and an error when they still cannot be placed after the placement timeout."""
    warn_after = settings.wait_warning_s()
    give_up_after = settings.serve_placement_timeout_s()
    warned = False
    while True:
        state = _client.call("get_app_state", name)
        if state is not None and state[0] >= deploy_id:
            _, app_status, message, unplaced_s = state
            if app_status == ApplicationStatus.RUNNING:
                return
            if app_status == ApplicationStatus.DEPLOY_FAILED:
                raise RuntimeError(f"application {name!r} failed to deploy: {message}")
            if unplaced_s >= give_up_after:
                raise RuntimeError(
                    f"application {name!r} did not start within {give_up_after:g} s: "
                    f"{message}. It stays deployed and starts once room frees up; "
                    f"serve.delete({name!r}) removes it (EMBER_SERVE_PLACEMENT_TIMEOUT_S "
                    "sets this timeout)")
            if unplaced_s >= warn_after and not warned:
                warned = True
                print(f"ember.serve: application {name!r} is waiting: {message}",
                      file=sys.stderr, flush=True)
        time.sleep(_POLL_S)


def status() -> ServeStatus:
    """Every application's status, its deployments' and where the proxy listens.

    Example::

        serve.status().applications["default"].status          # "RUNNING"
        serve.status().applications["default"].deployments["Model"].status   # "HEALTHY"
    """
    if _client.get_controller() is None:
        return ServeStatus()
    return ServeStatus.from_dict(_client.call("get_status"))


def delete(name: str, _blocking: bool = True) -> None:
    """Stop application ``name``: its routes answer 404, its replicas exit.

    Deleting an application that does not exist does nothing.

    Args:
        name: the application's name (as given to ``serve.run``); returns once it is
            gone.

    Raises:
        TypeError: ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be an application name (a non-empty string), got {name!r}")
    if _client.get_controller() is None:
        return
    _client.call("delete", name)
    while _blocking and _client.call("app_exists", name):
        time.sleep(_POLL_S)


def get_app_handle(name: str) -> DeploymentHandle:
    """A handle to the ingress deployment of running application ``name``.

    Args:
        name: the application's name (as given to ``serve.run``).

    Raises:
        ValueError: no application has that name.
        TypeError: ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be an application name (a non-empty string), got {name!r}")
    if _client.get_controller() is None:
        raise ValueError(f"no application named {name!r}: serve is not running")
    return DeploymentHandle._make(name, _client.call("ingress_of", name))


def shutdown() -> None:
    """Stop every application and the proxy (its port is closed on return).

    The idle controller actor stays until ``ember.shutdown()``.
    """
    controller = _client.get_controller()
    if controller is None:
        return
    try:
        ember.get(controller.shutdown.remote())
    finally:
        forget_routers()
