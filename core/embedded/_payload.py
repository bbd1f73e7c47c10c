"""Where an object's bytes are: the small tuples that travel in messages.

    (INLINE, header, [buffer bytes...])      small objects, carried in the message
    (ARENA,  header, offset, [lengths...])   buffers in the shared-memory arena
    (FILE,   header, path,   [lengths...])   spilled to disk, mapped on read
    (ERROR,  pickled exception record)       the task failed; ``get`` raises

A header is the pickle-5 stream; the buffers are its out-of-band data.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from .. import _serialization
from ._arena import Arena, file_views

INLINE, ARENA, FILE, ERROR = 0, 1, 2, 3

Payload = tuple[Any, ...]
"""One of the tuples above; its first item is INLINE, ARENA, FILE or ERROR."""


def inline(serialized: _serialization.Serialized) -> Payload:
    return (INLINE, serialized.header, [bytes(b) for b in serialized.buffers])


def error(record: Any) -> Payload:
    """An ERROR payload; ``record`` is a RemoteError or an EmberError instance."""
    return (ERROR, pickle.dumps(record, protocol=5))


def cancelled() -> Payload:
    """The ERROR payload of a task or call stopped with ``ember.cancel``."""
    from ..exceptions import TaskCancelledError

    return error(TaskCancelledError("the task was cancelled with ember.cancel()"))


def nbytes(payload: Payload) -> int:
    if payload[0] == INLINE:
        return len(payload[1]) + sum(len(b) for b in payload[2])
    if payload[0] in (ARENA, FILE):
        lengths: list[int] = payload[3]
        return len(payload[1]) + sum(lengths)
    return len(payload[1])


def materialize(payload: Payload, arena: Arena | None,
                on_release: Callable[[], None] | None = None) -> Any:
    """Rebuild the value, zero-copy for arena and file buffers; raise for errors."""
    kind = payload[0]
    if kind == INLINE:
        return _serialization.loads(payload[1], payload[2])
    if kind == ARENA:
        assert arena is not None
        return _serialization.loads(payload[1], arena.read_views(payload[2], payload[3], on_release))
    if kind == FILE:
        if on_release is not None:
            on_release()  # a file mapping outlives unlinking; nothing to pin
        return _serialization.loads(payload[1], file_views(payload[2], payload[3]))
    raise error_from(payload)


def error_from(payload: Payload) -> BaseException:
    from .._remote_error import RemoteError

    record: RemoteError | BaseException = pickle.loads(payload[1])
    if isinstance(record, RemoteError):
        return record.to_exception()
    return record
