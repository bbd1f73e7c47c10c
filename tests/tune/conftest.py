from __future__ import annotations

import pytest

import ember


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    """One embedded engine with 2 CPUs for a module's tuning tests."""
    ember.shutdown()
    ember.init(num_cpus=2)
    yield ember
    ember.shutdown()
