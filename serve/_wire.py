"""The proxy-replica link: the engine's frames (``ember.core.framing``) over one Unix
socket.

One HTTP request is one frame each way (a streamed response is a start frame, one frame
per chunk and an end frame), multiplexed by request id over one connection per
(proxy, replica) pair. Frames (``rid`` is the request id):

    proxy -> replica   ("h", rid, scope, body)          an HTTP request
                       ("k", rid)                       the client went away: cancel
    replica -> proxy   ("r", rid, status, headers, body) a whole response
                       ("s", rid, status, headers)      a streamed response starts
                       ("c", rid, chunk)                one chunk of it
                       ("e", rid)                       it ended
                       ("x", rid, status, body)         the call failed (JSON error body)

Why not an actor call: on the embedded engine an actor call between two workers goes
through the driver (two extra process wake-ups each way); this link is one write and
one read per direction, which keeps the proxy's added latency small.

Who may connect: the replica's socket lives in Linux's abstract namespace, which has no
file permissions and whose names any local user can list. So the listening side checks
the connecting process's user (``SO_PEERCRED``) before it reads a byte (and the proxy
checks the replica it reached): only the user the replica runs as is served; anyone else is disconnected unread, because unpickling a
frame would run their code. Elsewhere the socket is a file in a 0700 folder.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
import uuid
from collections.abc import Callable
from typing import Any

from ember.core import framing


class FramedProtocol(asyncio.Protocol):
    """Splits the byte stream into messages; ``send`` writes one message."""

    def __init__(self, on_message: Callable[[FramedProtocol, tuple[Any, ...]], None],
                 on_lost: Callable[[FramedProtocol, Exception | None], None] | None = None):
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.decoder = framing.FrameDecoder()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not same_user(transport.get_extra_info("socket")):
            self.closed = True  # another local user: never unpickle what they send
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        for message in self.decoder.feed(data):
            self.on_message(self, message)

    def send(self, message: tuple[Any, ...]) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(framing.encode(message))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.on_lost is not None:
            self.on_lost(self, exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def same_user(sock: Any) -> bool:
    """Whether the peer of a Unix socket runs as this process's user (either side
    checks: a replica its callers, a proxy the replica it reached)."""
    if sock is None or sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return True  # not Linux: the socket file's 0700 folder keeps others out
    try:
        credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                      struct.calcsize("3i"))
    except OSError:
        return False
    _, uid, _ = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


def new_address() -> str:
    """A fresh Unix socket address: Linux's abstract namespace (no file to clean up;
    peers are checked with SO_PEERCRED), else a path in a private 0700 folder."""
    name = f"ember-serve-{uuid.uuid4().hex[:16]}"
    if sys.platform.startswith("linux"):
        return "\0" + name
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="ember-serve-"), name + ".sock")


def this_host() -> str:
    return socket.gethostname()
