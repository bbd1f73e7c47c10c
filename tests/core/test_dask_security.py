"""The Dask backend listens on loopback only and speaks TLS when asked to."""

from __future__ import annotations

import psutil
import pytest

import ember

pytestmark = pytest.mark.cluster


def _listening_addresses() -> set[str]:
    """The addresses TCP sockets of this process and its children listen on."""
    found = set()
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN:
                found.add(connection.laddr.ip)
    return found


@ember.remote
def double(x):
    return 2 * x


def test_a_local_dask_cluster_listens_on_loopback_only():
    ember.shutdown()
    ember.init(backend="dask", num_cpus=1)
    try:
        assert ember.get(double.remote(21), timeout=60) == 42
        addresses = _listening_addresses()
        assert addresses and addresses <= {"127.0.0.1"}, addresses
    finally:
        ember.shutdown()


def test_security_true_runs_a_local_cluster_over_tls():
    ember.shutdown()
    ember.init(backend="dask", num_cpus=1, security=True)
    try:
        from ember.core._context import current

        assert current().client.scheduler.address.startswith("tls://")
        assert ember.get(double.remote(4), timeout=60) == 8
    finally:
        ember.shutdown()


@pytest.mark.parametrize("kwargs,error,words", [
    ({"security": True}, ValueError, "embedded engine"),
    ({"backend": "dask", "security": "tls"}, TypeError, "distributed.security.Security"),
    ({"address": "tcp://127.0.0.1:1", "security": True}, ValueError, "LocalCluster"),
])
def test_bad_security_arguments_name_the_fix(kwargs, error, words):
    ember.shutdown()
    with pytest.raises(error, match=words):
        ember.init(**kwargs)
    assert not ember.is_initialized()
