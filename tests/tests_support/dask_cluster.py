"""Start real ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1 for a test."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from tests_support import wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dask_command() -> list[str]:
    return [os.path.join(os.path.dirname(sys.executable), "dask")]


@contextlib.contextmanager
def dask_cluster(workers: int = 2, resources: str = "CPU=1") -> Iterator[tuple[str, list]]:
    """A scheduler and ``workers`` single-threaded worker processes (no nanny, so a
    killed worker stays dead); yields (address, worker processes)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen(
        [*_dask_command(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], **quiet)]
    try:
        assert wait_for(lambda: _accepts(port), timeout=30), "the dask scheduler never started"
        worker_processes = [subprocess.Popen(
            [*_dask_command(), "worker", address, "--nworkers", "1", "--nthreads", "1",
             "--resources", resources, "--no-dashboard", "--no-nanny", "--name", f"w{i}"],
            **quiet) for i in range(workers)]
        processes += worker_processes
        from distributed import Client

        with Client(address, set_as_default=False, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address, worker_processes
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        time.sleep(0.05)
        return False
