"""The task trace a session leaves behind when it shuts down, for ``ember timeline``.

One file per user (the last session wins), written atomically; a failure to write it
never gets in the way of shutting down.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

from ._env import cache_dir

FILE_NAME = "last-session-trace.pkl"


def path() -> str:
    return os.path.join(cache_dir(), FILE_NAME)


def save(events: list[dict[str, Any]], backend: str) -> None:
    """Keep ``events`` (Chrome trace events) as the last session's trace."""
    if not events:
        return
    try:
        folder = cache_dir()
        os.makedirs(folder, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=folder, prefix=".trace-")
        with os.fdopen(handle, "wb") as out:
            pickle.dump({"backend": backend, "events": events}, out,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path())
    except OSError:
        pass  # a read-only home or a full disk must not break shutdown


def load() -> dict[str, Any] | None:
    """The last session's trace: {"backend", "events"}, or None if there is none."""
    try:
        with open(path(), "rb") as source:
            loaded: dict[str, Any] = pickle.load(source)
    except (OSError, pickle.UnpicklingError, EOFError):
        return None
    return loaded
