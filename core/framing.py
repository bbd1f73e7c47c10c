"""Ember's one wire format for messages between its processes: length-prefixed pickles.

A frame is a 4-byte little-endian length and a pickle (protocol 5) body. The embedded
engine's driver-worker channels and serve's proxy-replica links both speak it; this
module is the whole format, so the two cannot drift apart::

    encode(("h", 7, scope, body))  ->  b"\\x2a\\x00\\x00\\x00" + pickle
    decoder = FrameDecoder(); decoder.feed(bytes_from_a_socket) -> [message, ...]

Only ever decode frames from a peer already known to be this user's process (a socket
in a 0700 folder, or a peer checked with SO_PEERCRED): unpickling runs code.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

__all__ = ["FrameDecoder", "encode", "encode_many"]

_LENGTH = struct.Struct("<I")
HEADER_SIZE = _LENGTH.size


def encode(message: Any) -> bytes:
    """One frame holding ``message``."""
    body = pickle.dumps(message, protocol=5)
    return _LENGTH.pack(len(body)) + body


def encode_many(messages: list[Any]) -> bytes:
    """Frames for all of ``messages``, joined: one write sends them all."""
    parts = []
    for message in messages:
        body = pickle.dumps(message, protocol=5)
        parts.append(_LENGTH.pack(len(body)))
        parts.append(body)
    return b"".join(parts)


class FrameDecoder:
    """Turns a byte stream, in whatever pieces it arrives, back into messages."""

    def __init__(self) -> None:
        self._inbox = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Append received bytes; return every message now complete (oldest first)."""
        inbox = self._inbox
        inbox += data
        messages, position, size = [], 0, len(inbox)
        with memoryview(inbox) as view:
            while size - position >= HEADER_SIZE:
                (length,) = _LENGTH.unpack_from(view, position)
                if size - position - HEADER_SIZE < length:
                    break
                start = position + HEADER_SIZE
                messages.append(pickle.loads(view[start:start + length]))
                position = start + length
        if position:
            del inbox[:position]
        return messages
