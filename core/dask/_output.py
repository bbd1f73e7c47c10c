"""What Ember tasks print on Dask workers, forwarded to the driver line by line.

    task thread (or coroutine) ── print ──> labelled stdout/stderr of the worker process
        ── complete lines ──> Worker.log_event("ember-output") ──> scheduler
        ── Client.subscribe_topic ──> driver prints "(name pid=N, ip=H) line"

A Dask worker runs many tasks in threads of one process, so the label is a ContextVar
(per thread, and per asyncio task for async actor methods). Output written outside an
Ember task goes to the worker's own stdout/stderr, as before. Every Ember driver on the
cluster receives the topic, as with Dask's own ``distributed.print``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

TOPIC = "ember-output"

_label: contextvars.ContextVar[str | None] = contextvars.ContextVar("ember_label", default=None)
_partial: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "ember_partial", default=None)
_install_lock = threading.Lock()


class _Forwarding:
    """Replaces a Dask worker's sys.stdout/stderr: Ember tasks' lines go to the driver."""

    def __init__(self, original: TextIO, name: str):
        self._original = original
        self._name = name

    def write(self, text: str) -> int:
        label = _label.get()
        partial = _partial.get()
        if label is None or partial is None:
            return self._original.write(text)
        *lines, partial[self._name] = (partial.get(self._name, "") + text).split("\n")
        if lines:
            _send(label, self._name, lines)
        return len(text)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


_worker: Any = None
"""This process's Dask worker: actor methods run on executor threads Dask does not know,
where ``get_worker()`` finds none."""


def _send(label: str, stream: str, lines: list[str]) -> None:
    message = {"label": label, "pid": os.getpid(), "host": socket.gethostname(),
               "stream": stream, "lines": lines}
    if _worker is not None:
        _worker.log_event(TOPIC, message)
        return
    original = sys.__stderr__ if stream == "stderr" else sys.__stdout__
    if original is not None:  # not on a Dask worker after all
        original.write("\n".join(lines) + "\n")


def _install() -> None:
    global _worker
    if _worker is None:
        from distributed import get_worker

        try:
            _worker = get_worker()
        except ValueError:
            pass  # an executor thread: the task or actor that created it found the worker
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _Forwarding):
                setattr(sys, name, _Forwarding(current, name))


@contextlib.contextmanager
def labelled(name: str) -> Iterator[None]:
    """Around user code on a Dask worker: its output reaches the driver as ``name``."""
    _install()
    label_token = _label.set(name)
    partial: dict[str, str] = {}
    partial_token = _partial.set(partial)
    try:
        yield
    finally:
        _label.reset(label_token)
        _partial.reset(partial_token)
        for stream, rest in partial.items():
            if rest:  # a last line without a newline
                _send(name, stream, [rest])


def print_event(event: Any) -> None:
    """The driver's handler for the topic: print each line where the driver prints."""
    _, message = event
    target = sys.stderr if message.get("stream") == "stderr" else sys.stdout
    if target is None:
        return
    prefix = f"({message['label']} pid={message['pid']}, host={message['host']}) "
    try:
        target.write("".join(f"{prefix}{line}\n" for line in message["lines"]))
        target.flush()
    except (OSError, ValueError):
        pass
