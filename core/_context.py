"""The process's current backend: one explicit place, set by ``init`` or a worker's start.

Using the API before ``init`` starts the embedded engine with defaults, as Ray does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import EmberError

if TYPE_CHECKING:
    from ._backend import Backend

_lock = threading.RLock()
_current: Backend | None = None
_auto_init: Callable[[], Backend] | None = None


def set_current(backend: Backend | None) -> None:
    global _current
    with _lock:
        _current = backend


def current_or_none() -> Backend | None:
    return _current


def current() -> Backend:
    """The active backend; starts the embedded engine on first use."""
    backend = _current
    if backend is not None:
        return backend
    with _lock:
        if _current is None:
            assert _auto_init is not None
            return _auto_init()
        return _current


def register_auto_init(factory: Callable[[], Backend]) -> None:
    global _auto_init
    _auto_init = factory


def stale_ref_error(ref: Any) -> EmberError:
    return EmberError(
        f"{ref!r} belongs to an Ember session that has been shut down; objects do not "
        "outlive ember.shutdown(). Create it again in the current session.")
