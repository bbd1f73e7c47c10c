"""Fault injection for the chaos suite: find an embedded session's worker processes and
SIGKILL random ones from a background thread.

The embedded engine's process tree (see core/_zygote.py, core/_worker_pool.py)::

    driver (this process) ──> zygote (python -I -c "...ember.core.embedded._zygote import main...")
                                 ──fork──> worker, worker, ...  (same command line)

so a worker is a live child of a zygote that is a child of this process; the zygote
itself is never a target (killing it ends the session, a different scenario).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Self

import psutil

import ember
from tests_support.dask_cluster import dask_cluster, start_worker

_ZYGOTE_MARK = "ember.core.embedded._zygote"


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def zygote_pids() -> list[int]:
    """Pids of this process's live zygotes (one per embedded session)."""
    found = []
    for child in psutil.Process().children():
        try:
            if _alive(child) and _ZYGOTE_MARK in " ".join(child.cmdline()):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def worker_pids() -> list[int]:
    """Pids of the live Ember worker processes (task workers and actors) of this
    process's embedded session."""
    found = []
    for zygote in zygote_pids():
        try:
            found += [p.pid for p in psutil.Process(zygote).children() if _alive(p)]
        except psutil.NoSuchProcess:
            pass
    return found


class RandomKiller(threading.Thread):
    """SIGKILL a random pid among ``targets()`` every 0..``max_gap_s`` seconds, at most
    ``max_kills`` times, until ``stop()``; ``killed`` lists the pids hit.

    ``on_kill(pid)`` runs after each kill (e.g. to start a replacement Dask worker).
    Use as a context manager: leaving it stops the thread and waits for it.
    """

    def __init__(self, targets: Callable[[], list[int]], max_kills: int, seed: int,
                 max_gap_s: float = 0.2, on_kill: Callable[[int], None] | None = None):
        super().__init__(daemon=True, name="chaos-killer")
        self.targets, self.max_kills, self.max_gap_s = targets, max_kills, max_gap_s
        self.on_kill = on_kill
        self.rng = random.Random(seed)
        self.killed: list[int] = []
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while len(self.killed) < self.max_kills:
                if self._stopping.wait(self.rng.uniform(0.02, self.max_gap_s)):
                    return
                candidates = [pid for pid in self.targets() if pid not in self.killed]
                if not candidates:
                    continue
                pid = self.rng.choice(candidates)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.killed.append(pid)
                if self.on_kill is not None:
                    self.on_kill(pid)
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.error = error

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def on_dask(workers: int = 2) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A real scheduler + ``workers`` dask workers, Ember connected; yields the address
    and the worker processes (a list a test may append replacements to: they are ended
    here too)."""
    ember.shutdown()
    with dask_cluster(workers=workers) as (address, started):
        processes = list(started)
        ember.init(address=address)
        try:
            yield address, processes
        finally:
            ember.shutdown()
            for process in processes[len(started):]:
                process.terminate()
            for process in processes[len(started):]:
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def replace_killed_dask_workers(address: str,
                                processes: list[subprocess.Popen]) -> Callable[[int], None]:
    """An ``on_kill`` for RandomKiller: start a fresh dask worker for each one killed, so
    the cluster keeps its size."""

    def replace(pid: int) -> None:
        processes.append(start_worker(address, name=f"replacement-{len(processes)}"))

    return replace


def live(processes: list[subprocess.Popen]) -> Callable[[], list[int]]:
    """The pids of those of ``processes`` still running (a RandomKiller target)."""
    return lambda: [p.pid for p in processes if p.poll() is None]
