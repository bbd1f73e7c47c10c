"""Pickling user code the way tasks are shipped, for Ember's libraries (serve pickles
a deployment's class and its ``bind()`` arguments with it): by value where cloudpickle
would, keeping each code object's file name, so a traceback in another process names
the user's file and line and shows the source line (cloudpickle alone writes
``<dynamic-code>``)."""

from __future__ import annotations

import io
from typing import Any

from ._serialization import _Pickler

__all__ = ["dumps_keeping_filenames"]


def dumps_keeping_filenames(value: Any) -> bytes:
    """``cloudpickle.dumps(value)``, keeping code objects' file names (``pickle.loads``
    or ``cloudpickle.loads`` reads it back)."""
    stream = io.BytesIO()
    _Pickler(stream, protocol=5).dump(value)
    return stream.getvalue()
