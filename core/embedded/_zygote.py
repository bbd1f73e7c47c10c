"""The zygote: a small process that forks workers and reaps them.

    driver ──SPAWN(index, config) + socket fd──> zygote ──fork──> worker
    driver <──SPAWNED(index, pid) / EXITED(pid, code)── zygote

It imports the worker's modules once, so a new worker is a fork (milliseconds), not a
fresh interpreter. It lives in its own session (a terminal's Ctrl+C reaches only the
driver). When the driver goes away — shutdown, exit or SIGKILL — its control socket
reaches EOF and the zygote kills every worker, removes the spill directory and exits;
workers also get SIGKILL from the kernel if the zygote dies first.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import selectors
import shutil
import signal
import socket
import sys
from typing import Any

SPAWN, KILL = "spawn", "kill"
SPAWNED, EXITED = "spawned", "exited"
_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(control_fd: int, arena_fd: int, arena_capacity: int, spill_dir: str) -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import _worker  # preload what every worker needs, once
    from ._arena import Arena

    # numpy is not preloaded: it would add ~15 MB to every idle worker's footprint,
    # and workers import it on their first large object anyway.
    arena = Arena(arena_fd, arena_capacity)
    control = socket.socket(fileno=control_fd)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            _send(control, (EXITED, pid, code))

    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is wake_read:
                    os.read(wake_read, 4096)
                    reap()
                    continue
                data, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 4)
                if not data:
                    return
                message = pickle.loads(data)
                if message[0] == KILL:
                    try:
                        os.kill(message[1], message[2])
                    except ProcessLookupError:
                        pass
                    continue
                _, index, config = message
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    control.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    set_parent_death_signal()
                    if len(fds) == 3:  # the driver reads this worker's output
                        os.dup2(fds[1], 1)
                        os.dup2(fds[2], 2)
                        os.close(fds[1])
                        os.close(fds[2])
                    code = 1
                    try:
                        _worker.run(fds[0], index, arena, config)
                        code = 0
                    except BaseException:  # noqa: BLE001 - an engine bug: say so before dying
                        import traceback

                        traceback.print_exc()
                    finally:
                        os._exit(code)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                _send(control, (SPAWNED, index, pid))
    except (ConnectionError, OSError):
        return
    finally:
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        shutil.rmtree(spill_dir, ignore_errors=True)


def _send(control: socket.socket, message: tuple[Any, ...]) -> None:
    control.sendall(pickle.dumps(message, protocol=5))


if __name__ == "__main__":  # started by _worker_pool with -I and an explicit sys.path
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
