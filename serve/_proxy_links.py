"""The proxy's side of routing: a link per replica and a ``Route`` per application.

    Route (one per route prefix)
      acquire(): power of two choices among replicas below max_ongoing_requests;
                 all full -> wait in a bounded queue; queue full -> Full (the proxy's 503)
      release(): the replica has one fewer in flight; hand it to the oldest waiter
    ReplicaLink (one per replica)
      a _wire connection (same machine) or actor calls (another machine); a lost
      connection fails its requests with ReplicaDied and tells the controller
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable
from typing import Any

from . import _wire
from ._routing import choose


class Full(Exception):
    """Every replica is at max_ongoing_requests and the queue is at max_queued_requests."""


class ReplicaDied(Exception):
    """The replica's connection closed while the request was in flight."""


class _Pending:
    __slots__ = ("future", "queue")

    def __init__(self, future: asyncio.Future[Any]):
        self.future = future
        self.queue: asyncio.Queue[Any] | None = None


class ReplicaLink:
    def __init__(self, replica_id: str, info: dict[str, Any], actor: Any,
                 on_dead: Callable[[ReplicaLink], None]):
        self.replica_id = replica_id
        self.address = info["address"]
        self.local = info["host"] == _wire.this_host()
        self.actor = actor
        self.on_dead = on_dead
        self.protocol: _wire.FramedProtocol | None = None
        self.connecting: asyncio.Future[Any] | None = None
        self.pending: dict[int, _Pending] = {}
        self.ids = itertools.count(1)
        self.dead = False
        self.retired = False  # left the routes on purpose: its end is no failure

    async def _connection(self) -> _wire.FramedProtocol:
        protocol = self.protocol
        if protocol is not None and not protocol.closed:
            return protocol
        if self.connecting is None or self.connecting.done() and self.protocol is None:
            self.connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self.connecting)  # type: ignore[no-any-return]

    async def _connect(self) -> _wire.FramedProtocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_unix_connection(
                lambda: _wire.FramedProtocol(self._on_frame, self._on_lost), self.address)
        except OSError:
            self._mark_dead()
            raise
        self.protocol = protocol
        return protocol

    async def send(self, scope: dict[str, Any], body: bytes) -> tuple[int, _Pending]:
        """Send one request; the returned pending's future gets the response head."""
        loop = asyncio.get_running_loop()
        rid = next(self.ids)
        pending = _Pending(loop.create_future())
        if not self.local:  # another machine: the replica answers through an actor call
            call = self.actor.call_http.remote  # sent from a helper thread: it may wait
            ref_future = loop.run_in_executor(None, call, scope, body)
            asyncio.ensure_future(self._relay(ref_future, pending))
            return rid, pending
        protocol = await self._connection()
        self.pending[rid] = pending
        protocol.send(("h", rid, scope, body))
        return rid, pending

    async def _relay(self, ref_future: Any, pending: _Pending) -> None:
        try:
            pending.future.set_result(await (await ref_future))
        except Exception as error:  # noqa: BLE001 - the actor is gone
            self._mark_dead()
            if not pending.future.done():
                pending.future.set_exception(ReplicaDied(str(error)))

    def cancel(self, rid: int) -> None:
        if self.pending.pop(rid, None) is not None and self.protocol is not None:
            self.protocol.send(("k", rid))

    def _on_frame(self, _: _wire.FramedProtocol, message: tuple[Any, ...]) -> None:
        kind, rid = message[0], message[1]
        pending = self.pending.get(rid)
        if pending is None:
            return
        if kind == "c":
            pending.queue.put_nowait(message[2])  # type: ignore[union-attr]
        elif kind == "s":
            pending.queue = asyncio.Queue()
            pending.future.set_result(message)
        else:  # "r", "x" or "e": this request is over
            del self.pending[rid]
            if pending.queue is not None:
                pending.queue.put_nowait(None)
            elif not pending.future.done():
                pending.future.set_result(message)

    def _on_lost(self, _: _wire.FramedProtocol, exc: Exception | None) -> None:
        self.protocol = None
        pending, self.pending = self.pending, {}
        for item in pending.values():
            if item.queue is not None:
                item.queue.put_nowait(None)
            elif not item.future.done():
                item.future.set_exception(ReplicaDied(
                    f"replica {self.replica_id} died while handling the request"))
        self._mark_dead()

    def _mark_dead(self) -> None:
        if not self.dead:
            self.dead = True
            if not self.retired:
                self.on_dead(self)

    def close(self) -> None:
        self.retired = True
        if self.protocol is not None and not self.pending:
            self.protocol.close()


class Route:
    """Requests for one application's ingress deployment."""

    def __init__(self, prefix: str, app: str, deployment: str):
        self.prefix = prefix
        self.app = app
        self.deployment = deployment
        self.root_path = "" if prefix == "/" else prefix
        self.max_ongoing = 1
        self.max_queued = -1
        self.links: dict[str, ReplicaLink] = {}
        self.ids: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.waiters: collections.deque[asyncio.Future[ReplicaLink]] = collections.deque()

    def update(self, entry: dict[str, Any], on_dead: Callable[[ReplicaLink], None]) -> None:
        self.app, self.deployment = entry["app"], entry["deployment"]
        self.max_ongoing, self.max_queued = entry["max_ongoing"], entry["max_queued"]
        links = {}
        for replica_id, info, actor in entry["replicas"]:
            link = self.links.get(replica_id)
            if link is None or link.dead:
                link = ReplicaLink(replica_id, info, actor, on_dead)
            links[replica_id] = link
        for replica_id, link in self.links.items():
            if replica_id not in links:
                link.close()
        self.links = links
        self._reindex()
        self._wake()

    def drop(self, link: ReplicaLink) -> None:
        if self.links.get(link.replica_id) is link:
            del self.links[link.replica_id]
            self._reindex()

    def _reindex(self) -> None:
        self.ids = list(self.links)
        self.in_flight = {rid: self.in_flight.get(rid, 0) for rid in self.ids}

    def try_acquire(self) -> ReplicaLink | None:
        chosen = choose(self.ids, self.in_flight, self.max_ongoing)
        if chosen is None:
            return None
        self.in_flight[chosen] += 1
        return self.links[chosen]

    async def acquire(self) -> ReplicaLink:
        link = self.try_acquire() if not self.waiters else None
        if link is not None:
            return link
        if self.max_queued != -1 and len(self.waiters) >= self.max_queued:
            raise Full
        waiter: asyncio.Future[ReplicaLink] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            else:
                try:
                    self.waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self, link: ReplicaLink) -> None:
        count = self.in_flight.get(link.replica_id)
        if count:
            self.in_flight[link.replica_id] = count - 1
        if self.waiters:
            self._wake()

    def _wake(self) -> None:
        while self.waiters:
            if self.waiters[0].done():
                self.waiters.popleft()
                continue
            link = self.try_acquire()
            if link is None:
                return
            self.waiters.popleft().set_result(link)

    def matches(self, path: str) -> bool:
        prefix = self.prefix
        return prefix == "/" or path == prefix or path.startswith(prefix + "/")
