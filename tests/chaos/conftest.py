"""The chaos suite: faults injected for real (SIGKILLed workers, proxies, drivers; thread
storms; a store far smaller than what goes through it), each scenario asserting exact
results and nothing left behind.

Every test here is marked ``chaos`` (``pytest -m chaos`` runs just these). CI runs each
scenario once; ``EMBER_CHAOS_REPEAT=N`` repeats the stress loops N times for a soak run,
e.g. ``EMBER_CHAOS_REPEAT=20 .venv/bin/pytest -m chaos``.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    raw = os.environ.get("EMBER_CHAOS_REPEAT", "1")
    scale = int(raw) if raw.isdigit() and int(raw) > 1 else 1
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.chaos)
            if scale > 1:  # a soak run's loops take N times as long: so may the test
                item.add_marker(pytest.mark.timeout(120 * scale))


@pytest.fixture
def repeats() -> int:
    """How many times a stress loop runs (``EMBER_CHAOS_REPEAT``, default 1)."""
    raw = os.environ.get("EMBER_CHAOS_REPEAT", "1")
    try:
        value = int(raw)
    except ValueError:
        raise pytest.UsageError(f"EMBER_CHAOS_REPEAT must be a whole number, got {raw!r}")
    if value < 1:
        raise pytest.UsageError(f"EMBER_CHAOS_REPEAT must be at least 1, got {value}")
    return value


@pytest.fixture(autouse=True)
def no_leftovers_after_scenario():  # type: ignore[no-untyped-def]
    """After each scenario: the session is shut down, no child process and no arena
    memfd remain (the module-level check in tests/conftest.py covers spill folders and
    /dev/shm)."""
    yield
    import ember

    ember.shutdown()
    from tests_support import wait_for
    from tests_support.leaks import live_children, open_arena_memfds

    left = wait_for(lambda: not live_children(), timeout=15)
    if not left:
        stray = live_children()
        names = [(p.pid, " ".join(p.cmdline())[:80]) for p in stray]
        for process in stray:
            process.kill()
        pytest.fail(f"processes left behind: {names}")
    assert not open_arena_memfds(), f"arena memfds still open: {open_arena_memfds()}"
