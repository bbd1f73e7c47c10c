"""The HTTP proxy: uvicorn serving one ASGI callable, inside an actor of its own.

    client --HTTP--> uvicorn --> HTTPProxy.__call__(scope, receive, send)
        built-in /-/healthz, /-/routes, /-/status
        longest matching route prefix (none: 404)
        read the body -> Route.acquire() (all full and queue full: 503)
        -> one _wire frame to the replica -> its response (or stream) -> client
        replica died before answering: tried on another replica (if it never got the
        request, or the method is idempotent), else 503
        replica exception: the replica's status (500) and JSON error body
        request_timeout_s passed: 408

The controller pushes the route table (``update``) whenever replicas come or go.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from . import _client
from ._http_io import JSON, SCOPE_KEYS, TEXT
from ._proxy_links import Full, ReplicaDied, ReplicaLink, Route

_BUILTIN = ("/-/healthz", "/-/routes", "/-/status")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods a request may be sent again with (RFC 9110, 9.2.2)."""
RETRY_ATTEMPTS = 3
"""Replicas a request is tried on when the one handling it dies before answering."""


class HTTPProxy:
    """The actor class (``ember.remote(HTTPProxy)``); created by the controller."""

    def __init__(self) -> None:
        self.routes: list[Route] = []  # longest prefix first
        self.server: Any = None
        self.serve_task: asyncio.Task[None] | None = None
        self.request_timeout_s: float | None = None
        self.max_body: int | None = None
        self.max_header: int | None = None
        self.controller: Any = None

    # -- control ------------------------------------------------------------------------
    async def start(self, host: str, port: int, request_timeout_s: float | None,
                    max_body: int | None = None, max_header: int | None = None) -> int:
        """Bind ``host:port`` and serve; returns the port (useful with port 0)."""
        import uvicorn

        self.request_timeout_s = request_timeout_s
        self.max_body, self.max_header = max_body, max_header
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off only for sockets that say TCP, and
        # with Nagle on, the header and body writes of a response wait 40 ms for an ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            raise OSError(
                f"serve cannot listen on {host}:{port} ({error.strerror}); pass a free "
                "port to serve.run(port=...) or stop what uses it") from None
        sock.listen(2048)
        sock.setblocking(False)
        config = uvicorn.Config(self, lifespan="off", log_level="warning", access_log=False,
                                proxy_headers=False, server_header=False, date_header=False)
        self.server = uvicorn.Server(config)
        self.serve_task = asyncio.ensure_future(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if self.serve_task.done():
                self.serve_task.result()  # raises the reason it stopped
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.005)
        return int(sock.getsockname()[1])

    async def update(self, table: list[dict[str, Any]]) -> None:
        """Replace the route table (keeping queues and connections of known routes)."""
        known = {route.prefix: route for route in self.routes}
        routes = []
        for entry in table:
            route = known.pop(entry["prefix"], None) or Route(
                entry["prefix"], entry["app"], entry["deployment"])
            route.update(entry, self._replica_died)
            routes.append(route)
        for gone in known.values():  # deleted applications: waiting requests get 404
            for link in gone.links.values():
                link.close()
            for waiter in gone.waiters:
                if not waiter.done():
                    waiter.cancel()
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    async def queue_lengths(self) -> dict[str, int]:
        return {f"{r.app}/{r.deployment}": len(r.waiters) for r in self.routes}

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            if self.serve_task is not None:
                await asyncio.wait_for(self.serve_task, 10)
        for route in self.routes:
            for link in route.links.values():
                link.close()

    def _replica_died(self, link: ReplicaLink) -> None:
        for route in self.routes:
            if route.links.get(link.replica_id) is link:
                route.drop(link)
                report = (route.app, route.deployment, link.replica_id)
                asyncio.get_running_loop().run_in_executor(None, self._report, report)

    def _report(self, failure: tuple[str, str, str]) -> None:
        """Tell the controller (from a helper thread: the call may wait for its result)."""
        with contextlib.suppress(Exception):  # the health check finds it anyway
            if self.controller is None:
                self.controller = _client.get_controller()
            if self.controller is not None:
                self.controller.replica_failed.remote(*failure)

    # -- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        path = scope["path"]
        route = None
        for candidate in self.routes:
            if candidate.matches(path):
                route = candidate
                break
        if path in _BUILTIN:
            return await self._builtin(path, send)
        if route is None:
            return await _respond(send, 404, TEXT, (
                f"Path '{path}' not found; see /-/routes for the application routes").encode())
        refusal = self._refuse_oversized(scope)
        if refusal is not None:
            return await _respond(send, *refusal)
        body = await _read_body(receive, self.max_body)
        if body is None:
            return await _respond(send, *_too_large(self.max_body))
        forwarded = {key: scope[key] for key in SCOPE_KEYS if key in scope}
        forwarded["root_path"] = route.root_path
        if self.request_timeout_s is None:
            return await self._forward(route, forwarded, body, receive, send)
        started: list[bool] = []
        try:
            await asyncio.wait_for(self._forward(route, forwarded, body, receive, send, started),
                                   self.request_timeout_s)
        except TimeoutError:
            if not started:
                await _respond(send, 408, JSON, json.dumps({
                    "error": f"the request took longer than request_timeout_s="
                             f"{self.request_timeout_s}", "application": route.app}).encode())

    async def _forward(self, route: Route, scope: dict[str, Any], body: bytes, receive: Any,
                       send: Any, started: list[bool] | None = None) -> None:
        """Send the request to a replica and relay its answer. A replica that dies before
        answering is not the client's problem when retrying is safe: the request goes to
        another replica if it never reached the dead one, or if its method is idempotent."""
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                link = await route.acquire()
            except Full:
                return await _respond(send, 503, JSON, json.dumps({
                    "error": f"every replica of {route.deployment!r} is busy and "
                             f"{len(route.waiters)} requests are waiting; retry later",
                    "application": route.app}).encode())
            except asyncio.CancelledError:
                if route not in self.routes:  # the application was deleted meanwhile
                    return await _respond(send, 404, TEXT, b"the application was deleted")
                raise
            reached = False
            rid = 0
            try:
                rid, pending = await link.send(scope, body)
                reached = True
                head = await pending.future
                if started is not None:
                    started.append(True)
                kind = head[0]
                if kind == "r":
                    return await _respond(send, head[2], head[3], head[4])
                if kind == "x":
                    return await _respond(send, head[2], JSON, head[3])
                if kind == "s":
                    return await _stream(head, pending, link, rid, receive, send)
                return None
            except (ReplicaDied, OSError) as error:
                safe = not reached or scope["method"] in IDEMPOTENT_METHODS
                if not safe or attempt == RETRY_ATTEMPTS:
                    return await _respond(send, 503, JSON, json.dumps({
                        "error": f"{error}; retry the request",
                        "application": route.app}).encode())
            except asyncio.CancelledError:
                link.cancel(rid)
                raise
            finally:
                route.release(link)
        return None

    def _refuse_oversized(self, scope: dict[str, Any]) -> tuple[Any, ...] | None:
        """(status, headers, body) for a request over the size limits, before its body
        is read; None when it is within them."""
        headers = scope.get("headers") or []
        if self.max_header is not None:
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") \
                + sum(len(k) + len(v) + 4 for k, v in headers)
            if size > self.max_header:
                return 431, JSON, json.dumps({
                    "error": f"the request line and headers are {size} bytes, over the "
                             f"proxy's limit of {self.max_header}; send less, or raise "
                             "serve.run(max_request_header_bytes=...)"}).encode()
        if self.max_body is not None:
            for key, value in headers:
                if key == b"content-length":
                    try:
                        declared = int(value)
                    except ValueError:
                        return 400, TEXT, b"the Content-Length header is not a number"
                    if declared > self.max_body:
                        return _too_large(self.max_body)
        return None

    async def _builtin(self, path: str, send: Any) -> None:
        if path == "/-/healthz":
            return await _respond(send, 200, TEXT, b"success")
        if path == "/-/routes":
            routes = {r.prefix: r.app for r in self.routes}
            return await _respond(send, 200, JSON, json.dumps(routes).encode())
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(None, _client.call, "get_status")
        await _respond(send, 200, JSON, json.dumps(status).encode())


async def _read_body(receive: Any, limit: int | None) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` (the rest unread)."""
    message = await receive()
    body = message.get("body", b"")
    if limit is not None and len(body) > limit:
        return None
    if not message.get("more_body"):
        return body  # type: ignore[no-any-return]
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _too_large(limit: int | None) -> tuple[Any, ...]:
    return 413, JSON, json.dumps({
        "error": f"the request body is over the proxy's limit of {limit} bytes; send less, "
                 "or raise serve.run(max_request_body_bytes=...)"}).encode()


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]],
                   body: bytes) -> None:
    if not any(key == b"content-length" for key, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(head: tuple[Any, ...], pending: Any, link: ReplicaLink, rid: int,
                  receive: Any, send: Any) -> None:
    """Relay a streamed response chunk by chunk; stop the replica if the client leaves."""
    await send({"type": "http.response.start", "status": head[2], "headers": head[3]})
    disconnected = asyncio.ensure_future(receive())
    try:
        while True:
            chunk_waiter = asyncio.ensure_future(pending.queue.get())
            done, _ = await asyncio.wait({chunk_waiter, disconnected},
                                         return_when=asyncio.FIRST_COMPLETED)
            if chunk_waiter not in done:
                chunk_waiter.cancel()
                link.cancel(rid)
                return
            chunk = chunk_waiter.result()
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        disconnected.cancel()
