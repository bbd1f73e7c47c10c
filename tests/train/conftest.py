from __future__ import annotations

import pytest

import ember


@pytest.fixture(scope="module", autouse=True)
def session():  # type: ignore[no-untyped-def]
    """One embedded engine with 2 CPUs per module: room for two training workers."""
    ember.shutdown()
    ember.init(num_cpus=2)
    yield ember
    ember.shutdown()
