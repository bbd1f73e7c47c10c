"""Shared fixtures: every test module must leave no process, spill folder or shm segment."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile

import cloudpickle
import pytest

# Sessions started by tests spill into a private folder, so the leak check below sees
# only this test run's folders (other Ember programs may run on the machine).
SPILL_PARENT = tempfile.mkdtemp(prefix="ember-tests-")
os.environ["EMBER_SPILL_DIR"] = SPILL_PARENT
# Sessions leave their trace for `ember timeline` here, not in the user's cache.
CACHE_DIR = tempfile.mkdtemp(prefix="ember-tests-cache-")
os.environ["EMBER_CACHE_DIR"] = CACHE_DIR


def _ember_leftovers() -> set[str]:
    spill = set(glob.glob(os.path.join(SPILL_PARENT, "ember-spill-*")))
    shm = {f"/dev/shm/{name}" for name in os.listdir("/dev/shm") if "ember" in name} \
        if os.path.isdir("/dev/shm") else set()
    return spill | shm


# Test helpers live in tests/tests_support; with --import-mode=importlib nothing puts
# tests/ on sys.path, so do it here (only for the test process).
sys.path.insert(0, os.path.dirname(__file__))
from tests_support import wait_for
from tests_support.leaks import live_children


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    """One embedded engine with 2 CPUs shared by a module's tests."""
    import ember

    ember.shutdown()
    ember.init(num_cpus=2)
    yield ember
    ember.shutdown()


@pytest.fixture(autouse=True, scope="module")
def no_leaks_after_module():  # type: ignore[no-untyped-def]
    """After each module: no worker processes, spill folders or shm segments remain."""
    before = _ember_leftovers()
    yield
    import ember

    ember.shutdown()
    leftover = wait_for(lambda: not live_children(), timeout=10) or live_children()
    if leftover is not True and leftover:
        names = [(p.pid, " ".join(p.cmdline())[:80]) for p in leftover]
        for process in leftover:
            process.kill()
        pytest.fail(f"processes left behind: {names}")
    extra = _ember_leftovers() - before
    assert not extra, f"files left behind: {extra}"


@pytest.fixture(autouse=True, scope="session")
def _remove_spill_parent():  # type: ignore[no-untyped-def]
    yield
    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    try:
        os.rmdir(SPILL_PARENT)
    except OSError as error:
        pytest.fail(f"spill folders left behind in {SPILL_PARENT}: {error}")


@pytest.fixture(autouse=True)
def _pickle_test_module_by_value(request):  # type: ignore[no-untyped-def]
    """Test modules are imported by path (importlib mode), so workers cannot import them
    by name: ship their functions by value, as for a script's __main__."""
    module = request.module
    if module.__name__ not in cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES:
        cloudpickle.register_pickle_by_value(module)
    yield
