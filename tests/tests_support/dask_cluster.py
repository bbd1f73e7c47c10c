"""Start real ``dask scheduler`` / ``dask worker`` processes on 127.0.0.1 for a test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from tests_support import wait_for
from tests_support.ports import free_port, port_is_open


def _dask_command() -> list[str]:
    return [os.path.join(os.path.dirname(sys.executable), "dask")]


@contextlib.contextmanager
def dask_cluster(workers: int = 2, resources: str = "CPU=1") -> Iterator[tuple[str, list]]:
    """A scheduler and ``workers`` single-threaded worker processes (no nanny, so a
    killed worker stays dead); yields (address, worker processes)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen(
        [*_dask_command(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], **quiet)]
    try:
        assert wait_for(lambda: port_is_open(port), timeout=30), "the dask scheduler never started"
        worker_processes = [start_worker(address, resources, f"w{i}") for i in range(workers)]
        processes += worker_processes
        from distributed import Client

        if workers:
            with Client(address, set_as_default=False, timeout=30) as client:
                client.wait_for_workers(workers, timeout=60)
        yield address, worker_processes
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            stop(process)


def stop(process: subprocess.Popen, grace_s: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; returns once the process is gone."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_worker(address: str, resources: str = "CPU=1", name: str = "w") -> subprocess.Popen:
    """One single-threaded ``dask worker`` (no nanny) joining ``address``; the caller
    ends it (``dask_cluster`` ends the ones it started)."""
    return subprocess.Popen(
        [*_dask_command(), "worker", address, "--nworkers", "1", "--nthreads", "1",
         "--resources", resources, "--no-dashboard", "--no-nanny", "--name", name],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
