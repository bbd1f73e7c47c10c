"""Fixtures for serve tests: one Ember session per module, a free port per test, and
serve shut down after every test (so each starts from nothing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests_support.ports import free_port

import ember
from ember import serve


@pytest.fixture(scope="module")
def session() -> Iterator[None]:
    ember.init(num_cpus=8)
    yield
    serve.shutdown()
    ember.shutdown()


@pytest.fixture
def port(session: None) -> Iterator[int]:
    number = free_port()
    yield number
    serve.shutdown()
