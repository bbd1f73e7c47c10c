"""Finding and calling the serve controller from any process (driver, replica, proxy).

The controller is one named, detached actor; everything else reaches it by name. Calls
block, so inside a running event loop they are made from a helper thread (``ember.get``
refuses to block a loop, rightly: here the wait is short and happens rarely).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import ember

CONTROLLER_NAME = "ember_serve_controller"
PROXY_NAME = "ember_serve_proxy"
NAMESPACE = "ember_serve"
T = TypeVar("T")


def get_controller() -> Any | None:
    """The running controller's handle, or None when serve is not running."""
    if not ember.is_initialized():
        return None
    try:
        return ember.get_actor(CONTROLLER_NAME, namespace=NAMESPACE)
    except ValueError:
        return None


def controller_or_raise() -> Any:
    controller = get_controller()
    if controller is None:
        raise RuntimeError(
            "Ember Serve is not running in this session; start an application with "
            "serve.run(app) first")
    return controller


def call(method: str, *args: Any, timeout: float | None = None) -> Any:
    """``ember.get(controller.<method>.remote(*args))``, safe inside an event loop."""
    def run() -> Any:
        controller = controller_or_raise()
        return ember.get(getattr(controller, method).remote(*args), timeout=timeout)
    return off_loop(run)


def off_loop(function: Callable[[], T]) -> T:
    """Run a blocking function here, or on a helper thread if this thread runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            box["error"] = error
    thread = threading.Thread(target=target, name="ember-serve-call", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
