"""What a test may leave behind: checks shared by the suite's leak fixtures."""

from __future__ import annotations

import os

import psutil


def live_children() -> list[psutil.Process]:
    """This process's live descendants, less Python's own multiprocessing helper (Dask's
    LocalCluster starts one per test process; it exits with this process)."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "multiprocessing.resource_tracker" in " ".join(child.cmdline()):
                continue
            alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def open_arena_memfds() -> list[str]:
    """Ember arena memfds still open in this process (each session names its arena
    ``ember-object-store``; a shut-down session closes it)."""
    found = []
    fd_dir = "/proc/self/fd"
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("/memfd:ember"):
            found.append(target)
    return found
