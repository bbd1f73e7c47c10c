"""Fixtures for serve tests: one Ember session per module, a free port per test, and
serve shut down after every test (so each starts from nothing)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import ember
from ember import serve


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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
