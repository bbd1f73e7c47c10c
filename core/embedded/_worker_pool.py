"""The driver's side of the zygote: start it, ask it for workers, hear about exits."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
from typing import Any

from .._log import logger
from . import _zygote

_BOOTSTRAP = (
    "import sys; sys.path[:] = {path!r}; "
    "from ember.core.embedded._zygote import main; main(*map(int, sys.argv[1:4]), sys.argv[4])"
)


class WorkerPool:
    """Owns the zygote process and the control socket to it."""

    def __init__(self, arena_fd: int, arena_capacity: int, spill_dir: str):
        self.control, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = _BOOTSTRAP.format(path=list(sys.path))
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", code, str(zygote_end.fileno()), str(arena_fd),
             str(arena_capacity), spill_dir],
            pass_fds=(zygote_end.fileno(), arena_fd),
            stdin=subprocess.DEVNULL,
            env=dict(os.environ),
            cwd=os.getcwd(),
        )
        zygote_end.close()

    def spawn(self, index: int, extra: dict[str, Any],
              output: tuple[int, int] | None = None) -> socket.socket:
        """Ask for worker ``index``; returns the driver's end of its socket at once.

        The worker starts with the driver's current ``sys.path``, working directory and
        environment, so whatever the driver can import by name, the worker can too.
        ``output``: write ends of pipes that become the worker's fd 1 and 2 (closed here
        once sent); without it the worker writes to the driver's own stdout/stderr.
        """
        driver_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = {"sys_path": list(sys.path), "cwd": os.getcwd(), "env": dict(os.environ),
                  "forward_output": output is not None, "logging_level": logger.level,
                  **extra}
        message = pickle.dumps((_zygote.SPAWN, index, config), protocol=5)
        try:
            socket.send_fds(self.control, [message], [worker_end.fileno(), *(output or ())])
        finally:
            worker_end.close()
            for fd in output or ():
                os.close(fd)
        return driver_end

    def kill(self, pid: int, sig: int = signal.SIGKILL) -> None:
        try:
            self.control.sendall(pickle.dumps((_zygote.KILL, pid, sig), protocol=5))
        except OSError:
            pass

    def read_event(self) -> tuple[Any, ...] | None:
        """One SPAWNED/EXITED report, or None when the zygote is gone."""
        data = self.control.recv(1 << 16)
        if not data:
            return None
        event: tuple[Any, ...] = pickle.loads(data)
        return event

    def close(self, timeout: float = 5.0) -> None:
        """Close the control socket: the zygote kills every worker and exits."""
        try:
            self.control.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
