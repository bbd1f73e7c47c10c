from __future__ import annotations

import pytest

import ember


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    """One embedded engine with 2 CPUs shared by a module's tests."""
    ember.shutdown()
    ember.init(num_cpus=2)
    yield ember
    ember.shutdown()
