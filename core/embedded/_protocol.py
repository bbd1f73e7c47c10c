"""Framed, pickled messages between the driver and its workers over Unix sockets.

A frame is ``ember.core.framing``'s: a 4-byte little-endian length and a pickle-5 body
(serve's links speak the same). One ``recv`` usually
returns many frames, so a busy peer is read in batches without extra system calls.
Every message is a tuple whose first item is one of the kinds below.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from enum import IntEnum
from typing import Any

from .. import framing

_RECV_SIZE = 1 << 20
SPIN_S = 0.0002
"""How long a reader polls without sleeping before it blocks. Waking a sleeping process
costs ~25 us on each side here, ten times a whole round trip between two processes
that are both awake; a waiting reader whose answer is close pays 200 us of CPU at most."""


class Msg(IntEnum):
    # driver -> worker
    EXEC = 1        # (EXEC, task_id, fn_id, fn_blob|None, args_payload, ref_args, return_ids, name, env, depth, stream)
    CANCEL = 2      # (CANCEL, task_id)
    REPLY = 3       # (REPLY, request_id, value)   answer to any request below
    ACTOR_INIT = 4  # (ACTOR_INIT, task_id, class_id, blob|None, args_payload, ref_args, return_ids, name, env, concurrency, is_async)
    ACTOR_CALL = 5  # (ACTOR_CALL, task_id, method, args_payload, ref_args, return_ids, name, stream)
    STREAM_ACK = 6  # (STREAM_ACK, task_id, items_consumed)
    # worker -> driver
    DONE = 10       # (DONE, task_id, results | error_payload, start_time, end_time)
    SUBMIT = 11     # (SUBMIT, task_id, fn_id, fn_blob|None, args_payload, ref_args, nested, return_ids, options, name)
    PUT = 12        # (PUT, object_id, payload, contained_ids)
    GET = 13        # (GET, request_id, object_ids, timeout, returned_task_ids)
    WAIT = 14       # (WAIT, request_id, object_ids, num_returns, timeout, returned_task_ids)
    ALLOC = 15      # (ALLOC, request_id, size)
    REFS = 16       # (REFS, increfs, decrefs, unpins)
    CANCEL_REF = 17  # (CANCEL_REF, object_id, force)
    INFO = 18       # (INFO, request_id, what, *args)  a question for the driver (resources, timeline, kv)
    RETURN = 19     # (RETURN, task_ids)  tasks that reached a worker blocked in get
    DONE_MANY = 29  # (DONE_MANY, [(task_id, results, start, end), ...])  one pickle for a batch
    ITEM = 20       # (ITEM, task_id, object_id, payload, contained_ids)  one streamed item
    ACTOR_CREATE = 21   # (ACTOR_CREATE, request_id, class_id, blob, args_payload, ref_args, nested, options_blob, class_name, methods)
    ACTOR_SUBMIT = 22   # (ACTOR_SUBMIT, task_id, actor_id, method, args_payload, ref_args, nested, return_ids, num_returns)
    ACTOR_KILL = 23     # (ACTOR_KILL, actor_id, no_restart)
    ACTOR_LOOKUP = 24   # (ACTOR_LOOKUP, request_id, name, namespace)
    STREAM_NEXT = 25    # (STREAM_NEXT, request_id, task_id, index, timeout)
    STREAM_RELEASE = 26  # (STREAM_RELEASE, task_id)
    GROUP_CREATE = 27   # (GROUP_CREATE, request_id, bundles, strategy, name)
    GROUP_REMOVE = 28   # (GROUP_REMOVE, group_id)
    ACTOR_EXIT = 30     # (ACTOR_EXIT, task_id, reason)  a method called sys.exit: the actor ends


class Channel:
    """One end of a driver-worker socket. ``send`` is thread-safe."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._send_lock = threading.Lock()
        self._decoder = framing.FrameDecoder()
        self._buffer = bytearray(_RECV_SIZE)
        self._view = memoryview(self._buffer)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
            except OSError:
                pass

    def send(self, message: tuple[Any, ...]) -> None:
        frame = framing.encode(message)
        with self._send_lock:
            self.sock.sendall(frame)

    def send_many(self, messages: list[tuple[Any, ...]]) -> None:
        frames = framing.encode_many(messages)
        with self._send_lock:
            self.sock.sendall(frames)

    def feed(self, data: bytes | memoryview) -> list[Any]:
        """Append received bytes; return every complete message."""
        return self._decoder.feed(data)

    def read_some(self, block: bool = True) -> list[Any] | None:
        """One ``recv`` into a reused buffer (no per-call allocation); None at EOF.

        With ``block=False`` it returns [] when nothing is there (another thread may have
        read what made the socket look readable)."""
        try:
            count = self.sock.recv_into(self._buffer, 0, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return []
        if not count:
            return None
        return self.feed(self._view[:count])

    def read_spinning(self, seconds: float = SPIN_S) -> list[Any] | None:
        """Poll without sleeping for up to ``seconds``; [] if nothing came, None at EOF."""
        deadline = time.perf_counter() + seconds
        while True:
            messages = self.read_some(block=False)
            if messages or messages is None or time.perf_counter() >= deadline:
                return messages
            os.sched_yield()  # let a runnable process have this core while we wait

    def recv(self) -> list[Any]:
        """Block until at least one message arrives; raise EOFError when the peer is gone."""
        while True:
            messages = self.read_some()
            if messages is None:
                raise EOFError("peer closed the connection")
            if messages:
                return messages

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
