"""Shared fixtures: every test module must leave no process, spill folder or shm segment."""

from __future__ import annotations

import glob
import os
import tempfile
import time

import cloudpickle
import psutil
import pytest


def _live_children() -> list[psutil.Process]:
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def _ember_leftovers() -> set[str]:
    spill = set(glob.glob(os.path.join(tempfile.gettempdir(), "ember-spill-*")))
    shm = {f"/dev/shm/{name}" for name in os.listdir("/dev/shm") if "ember" in name} \
        if os.path.isdir("/dev/shm") else set()
    return spill | shm


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture(autouse=True, scope="module")
def no_leaks_after_module():  # type: ignore[no-untyped-def]
    """After each module: no worker processes, spill folders or shm segments remain."""
    before = _ember_leftovers()
    yield
    import ember

    ember.shutdown()
    leftover = wait_for(lambda: not _live_children(), timeout=10) or _live_children()
    if leftover is not True and leftover:
        names = [(p.pid, " ".join(p.cmdline())[:80]) for p in leftover]
        for process in leftover:
            process.kill()
        pytest.fail(f"processes left behind: {names}")
    extra = _ember_leftovers() - before
    assert not extra, f"files left behind: {extra}"


@pytest.fixture(autouse=True)
def _pickle_test_module_by_value(request):  # type: ignore[no-untyped-def]
    """Test modules are imported by path (importlib mode), so workers cannot import them
    by name: ship their functions by value, as for a script's __main__."""
    module = request.module
    if module.__name__ not in cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES:
        cloudpickle.register_pickle_by_value(module)
    yield
