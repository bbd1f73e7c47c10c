"""A small key-value store that outlives the process that writes to it.

For Ember's own libraries and for advanced users, as ``ray.experimental.internal_kv``
(serve's controller keeps its state here, so that a restarted controller finds its
applications, replicas and proxy). The embedded engine keeps it in
the driver, local mode in the process, the Dask backend in the scheduler's metadata
(shared by every session on that cluster: prefix keys with something unique).
"""

from __future__ import annotations

from . import _context


def kv_put(key: str, value: bytes | None) -> None:
    """Store ``value`` under ``key``; None deletes it."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string, got {key!r}")
    if value is not None and not isinstance(value, bytes):
        raise TypeError(f"value must be bytes or None, got {type(value).__name__}")
    _context.current().kv_put(key, value)


def kv_get(key: str) -> bytes | None:
    """The value stored under ``key``, or None."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string, got {key!r}")
    return _context.current().kv_get(key)
