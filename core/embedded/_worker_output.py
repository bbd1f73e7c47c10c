"""A worker's stdout and stderr: line by line to the driver, marked with who wrote.

The driver reads both pipes (``_log_forwarder``) and prefixes every line with the label
of the task or actor that wrote it. The label travels in-band: before the first write
after the label changed, the stream writes a mark line, so a worker running the same
function again and again pays nothing, and C-level writes to fd 1/2 keep the last label.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from ._log_forwarder import MARK


class Labels:
    """What this worker is running, as the driver should print it."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self.current = self.label_for("ember worker")

    def label_for(self, name: str) -> str:
        """One string object per name, so writers compare labels by identity."""
        label = self._names.get(name)
        if label is None:
            label = self._names[name] = f"{name} pid={os.getpid()}"
        return label

    def set(self, name: str) -> None:
        self.current = self.label_for(name)


class LabelledStream:
    """Wraps ``sys.stdout``/``sys.stderr``: writes a mark line when the label changed."""

    def __init__(self, stream: TextIO, labels: Labels):
        self._stream = stream
        self._labels = labels
        self._marked: str | None = None
        self.dirty = False

    def write(self, text: str) -> int:
        label = self._labels.current
        if label is not self._marked:
            self._marked = label
            self._stream.write(f"{MARK.decode()}{label}\n")
        self.dirty = True
        return self._stream.write(text)

    def flush(self) -> None:
        self.dirty = False
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, buffer, ...
        return getattr(self._stream, name)


def install(labels: Labels) -> tuple[LabelledStream, LabelledStream]:
    """Make print() reach the driver line by line (fd 1/2 are the driver's pipes here)."""
    streams = []
    for name in ("stdout", "stderr"):
        original = getattr(sys, name)
        try:
            original.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass
        wrapped = LabelledStream(original, labels)
        setattr(sys, name, wrapped)
        streams.append(wrapped)
    return streams[0], streams[1]
