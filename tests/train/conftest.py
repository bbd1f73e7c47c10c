from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _engine(session):  # type: ignore[no-untyped-def]
    """Every train test runs on the shared 2-CPU engine: room for two workers."""
    yield session
