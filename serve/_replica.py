"""A replica: one actor holding one instance of the user's class (or the function).

    proxy --(Unix socket, _wire frames)--> serve_http --> instance.__call__(Request)
    handles --(actor call .call / .call_stream)--> instance.method(*args)
    controller --(actor calls)--> start, check_health, reconfigure, ongoing, drain

Everything runs on the actor's event loop: ``async def`` user methods are awaited, plain
ones run inline (a model that computes for a while holds the loop, as in Ray).

The user's code arrives as a blob pickled by core's ``dumps_keeping_filenames`` (see
``_application``), so a replica's traceback names the user's file and line and shows the
source line. Each HTTP request is one INFO record on the
``ember.serve`` logger (``GET /predict 200 3.1ms``), off unless that level is enabled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any

import cloudpickle

from . import _http_io, _wire
from ._handle import prefetch

logger = logging.getLogger("ember.serve")


class Replica:
    """The actor class; the controller starts it with ``ember.remote(Replica)``."""

    def __init__(self, app: str, deployment: str, replica_id: str, blob: bytes,
                 is_function: bool):
        self.app = app
        self.deployment = deployment
        self.replica_id = replica_id
        target, args, kwargs = cloudpickle.loads(blob)
        prefetch([args, kwargs])  # handles to other deployments learn their replicas now
        self.function = target if is_function else None
        self.instance = None if is_function else target(*args, **kwargs)
        self.ongoing = 0
        self.server: asyncio.AbstractServer | None = None
        self.tasks: dict[tuple[int, int], asyncio.Task[None]] = {}

    # -- control (from the controller) ---------------------------------------------------
    async def start(self, user_config: Any) -> dict[str, Any]:
        """Apply ``user_config``, open the socket the proxy talks to; report where."""
        if user_config is not None:
            await self.reconfigure(user_config)
        address = _wire.new_address()
        loop = asyncio.get_running_loop()
        self.server = await loop.create_unix_server(
            lambda: _wire.FramedProtocol(self._on_frame, self._on_lost), address)
        return {"address": address, "host": _wire.this_host(), "pid": os.getpid()}

    async def reconfigure(self, user_config: Any) -> None:
        method = getattr(self.instance, "reconfigure", None)
        if method is None:
            raise TypeError(
                f"deployment {self.deployment!r} has user_config but no "
                "reconfigure(self, user_config) method to receive it; add one")
        result = method(user_config)
        if inspect.isawaitable(result):
            await result

    async def check_health(self) -> None:
        method = getattr(self.instance, "check_health", None)
        if method is not None:
            result = method()
            if inspect.isawaitable(result):
                await result

    async def get_ongoing(self) -> int:
        return self.ongoing

    async def drain(self, timeout_s: float) -> int:
        """Wait until no request is in progress (or ``timeout_s``); returns how many are left."""
        if self.server is not None:
            self.server.close()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.ongoing and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return self.ongoing

    # -- handle calls ----------------------------------------------------------------------
    def _target(self, method: str) -> Any:
        if self.function is not None:
            if method != "__call__":
                raise AttributeError(
                    f"deployment {self.deployment!r} is a function; it has no method "
                    f"{method!r} (call the handle itself: handle.remote(...))")
            return self.function
        bound = getattr(self.instance, method, None)
        if bound is None or method.startswith("_") and method != "__call__":
            raise AttributeError(
                f"deployment {self.deployment!r} has no method {method!r}")
        return bound

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        self.ongoing += 1
        try:
            result = self._target(method)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            if inspect.isgenerator(result) or inspect.isasyncgen(result):
                raise TypeError(
                    f"{self.deployment}.{method} is a generator; call it through a "
                    "streaming handle: handle.options(stream=True)")
            return result
        finally:
            self.ongoing -= 1

    async def call_stream(self, method: str, /, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        self.ongoing += 1
        try:
            result = self._target(method)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            elif inspect.isgenerator(result):
                for item in result:
                    yield item
            else:
                raise TypeError(
                    f"{self.deployment}.{method} returned {type(result).__name__}, not a "
                    "generator; call it without stream=True")
        finally:
            self.ongoing -= 1

    async def call_http(self, scope: dict[str, Any], body: bytes) -> tuple[Any, ...]:
        """The whole HTTP response as one value (for proxies on another machine)."""
        frames: list[tuple[Any, ...]] = []
        await self._serve_http(frames.append, 0, scope, body)
        head, rest = frames[0], frames[1:]
        if head[0] == "s":
            body = b"".join(frame[2] for frame in rest if frame[0] == "c")
            return ("r", 0, head[2], head[3], body)
        return head

    # -- the proxy's socket ------------------------------------------------------------------
    def _on_frame(self, link: _wire.FramedProtocol, message: tuple[Any, ...]) -> None:
        if message[0] == "h":
            _, rid, scope, body = message
            key = (id(link), rid)
            task = asyncio.ensure_future(self._serve_http(link.send, rid, scope, body))
            self.tasks[key] = task
            task.add_done_callback(lambda _: self.tasks.pop(key, None))
        elif message[0] == "k":
            task = self.tasks.get((id(link), message[1]))
            if task is not None:
                task.cancel()

    def _on_lost(self, link: _wire.FramedProtocol, exc: Exception | None) -> None:
        for (link_id, _), task in list(self.tasks.items()):
            if link_id == id(link):
                task.cancel()

    async def _serve_http(self, send: Any, rid: int, scope: dict[str, Any], body: bytes) -> None:
        self.ongoing += 1
        started = time.perf_counter()
        status: int | str = "cancelled"  # what the request log says if none was sent
        try:
            request = _http_io.make_request(scope, body)
            target = self.function if self.function is not None else self.instance
            result = target(request)  # type: ignore[misc]
            if inspect.isawaitable(result):
                result = await result
            if _http_io.is_stream(result):
                status, headers = _http_io.stream_head(result)
                send(("s", rid, status, headers))
                async for chunk in _http_io.stream_chunks(result):
                    send(("c", rid, chunk))
                send(("e", rid))
            else:
                status, headers, payload = _http_io.whole_response(result)
                send(("r", rid, status, headers, payload))
        except asyncio.CancelledError:
            send(("e", rid))
        except Exception as error:  # noqa: BLE001 - a JSON error; the log keeps the trace
            logger.error("request to %s/%s failed:\n%s", self.app, self.deployment,
                         _user_traceback(error))
            status, payload = _http_io.error_body(error, self.app, self.deployment)
            send(("x", rid, status, payload))
        finally:
            self.ongoing -= 1
            if logger.isEnabledFor(logging.INFO):
                logger.info("%s %s %s %.1fms", scope.get("method"), scope.get("path"), status,
                            (time.perf_counter() - started) * 1000)


def _user_traceback(error: BaseException) -> str:
    """``error``'s traceback from the frame below ``_serve_http`` (which caught it) on."""
    tb = error.__traceback__
    return "".join(traceback.format_exception(
        type(error), error, tb.tb_next if tb is not None else None))
