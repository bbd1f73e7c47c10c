"""Workers' output, printed by the driver line by line with where it came from.

    worker fd 1 / fd 2 ──pipe──> LogForwarder thread (epoll) ──> driver's sys.stdout / sys.stderr
                                     "(square pid=4242) hello"

The driver makes each worker's two pipes and keeps their read ends, so what a worker
wrote before it exited, crashed or was SIGKILLed is still read to the end. Lines go to
whatever ``sys.stdout``/``sys.stderr`` are when they arrive (a notebook's cell output,
pytest's capture, a pipe), never to a terminal the driver does not own. The worker marks
which task or actor writes (see ``_worker_output``) with a line of its own; this thread
keeps the label per stream and strips the marks. A slow reader of the driver's output
slows the writers (the pipes fill), never the engine: this thread holds no engine lock.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from dataclasses import dataclass

MARK = b"\x1eember:"
"""Starts a worker's label line: MARK + b"name pid=N" + b"\\n"."""
_READ_SIZE = 1 << 16
_DRAIN_S = 2.0
"""How long shutdown waits for the last lines of exiting workers."""


@dataclass
class _Stream:
    fd: int
    to_stderr: bool
    label: bytes = b"ember worker"
    partial: bytes = b""


class LogForwarder:
    """Reads every worker's stdout and stderr pipe; prints their lines with a prefix."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._streams: dict[int, _Stream] = {}
        self._lock = threading.Lock()  # guards _streams against add() from other threads
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self._stopping = False
        self._drained = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="ember-log-forwarder",
                                        daemon=True)
        self._thread.start()

    def new_pipes(self) -> tuple[int, int]:
        """Two pipes for a new worker; returns their write ends (stdout, stderr), which
        the caller hands to the worker and then closes."""
        ends = []
        for to_stderr in (False, True):
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            with self._lock:
                self._streams[read_end] = _Stream(read_end, to_stderr)
                self._epoll.register(read_end, select.EPOLLIN)
            ends.append(write_end)
        return ends[0], ends[1]

    def close(self) -> None:
        """Print what exiting workers still write (up to a couple of seconds), then stop."""
        with self._lock:
            self._drained.wait_for(lambda: not self._streams, timeout=_DRAIN_S)
            self._stopping = True
        try:
            os.write(self._wake_write, b"x")
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for stream in list(self._streams.values()):  # the thread is gone: no lock needed
            self._flush_partial(stream)
            self._finish(stream)
        self._epoll.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                events = self._epoll.poll()
            except (OSError, ValueError):
                return
            with self._lock:
                if self._stopping:
                    return
                ready = [self._streams[fd] for fd, _ in events if fd in self._streams]
            if any(fd == self._wake_read for fd, _ in events):
                try:
                    os.read(self._wake_read, 4096)
                except OSError:
                    pass
            for stream in ready:
                self._read(stream)

    def _read(self, stream: _Stream) -> None:
        try:
            data = os.read(stream.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # every writer is gone: the worker exited
            self._flush_partial(stream)
            with self._lock:
                self._finish(stream)
            return
        *complete, stream.partial = (stream.partial + data).split(b"\n")
        self._emit(stream, complete)

    def _emit(self, stream: _Stream, lines: list[bytes]) -> None:
        out = []
        for line in lines:
            mark = line.find(MARK)
            if mark >= 0:  # the mark may follow a line the last task left unfinished
                if mark:
                    out.append(b"(%s) %s" % (stream.label, line[:mark]))
                stream.label = line[mark + len(MARK):]
                continue
            out.append(b"(%s) %s" % (stream.label, line))
        if not out:
            return
        text = (b"\n".join(out) + b"\n").decode("utf-8", errors="replace")
        target = sys.stderr if stream.to_stderr else sys.stdout
        if target is None:  # e.g. pythonw, or a closed stream at interpreter exit
            return
        try:
            target.write(text)
            target.flush()
        except (OSError, ValueError):
            pass  # the driver's own output is closed; nothing to print to

    def _flush_partial(self, stream: _Stream) -> None:
        """Print a last line the worker left without a newline."""
        if stream.partial:
            partial, stream.partial = stream.partial, b""
            self._emit(stream, [partial])

    def _finish(self, stream: _Stream) -> None:
        """Under the lock (or after the thread ended): forget the pipe."""
        if self._streams.pop(stream.fd, None) is None:
            return
        try:
            self._epoll.unregister(stream.fd)
        except (OSError, ValueError):
            pass
        os.close(stream.fd)
        if not self._streams:
            self._drained.notify_all()
