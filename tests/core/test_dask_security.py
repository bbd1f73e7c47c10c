"""The Dask backend listens on loopback only and speaks TLS when asked to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

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


INTRUDER = textwrap.dedent("""
    import os, sys
    from distributed import Client
    try:
        client = Client(sys.argv[1], timeout=5)
        client.submit(os.system, "touch " + sys.argv[2]).result(timeout=10)
        print("ran")
    except Exception as error:
        print("refused", type(error).__name__)
""")


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to connect as another user (nobody)")
def test_another_local_user_cannot_run_code_on_the_local_cluster():
    ember.shutdown()
    ember.init(backend="dask", num_cpus=1)
    try:
        from ember.core._context import current

        address = current().client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        marker = "/tmp/ember-dask-pwned-" + os.urandom(4).hex()
        for tried in (address, address.replace("tls://", "tcp://")):
            done = subprocess.run(
                ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 sys.executable, "-c", INTRUDER, tried, marker],
                capture_output=True, text=True, timeout=60, cwd="/", check=False)
            assert done.stdout.startswith("refused"), done.stdout + done.stderr
        assert not os.path.exists(marker), "code from another user ran on the cluster"
        assert ember.get(double.remote(5), timeout=60) == 10  # the session still works
    finally:
        ember.shutdown()


def test_security_false_runs_the_local_cluster_over_plain_tcp():
    ember.shutdown()
    ember.init(backend="dask", num_cpus=1, security=False)
    try:
        from ember.core._context import current

        assert current().client.scheduler.address.startswith("tcp://")
        assert ember.get(double.remote(3), timeout=60) == 6
    finally:
        ember.shutdown()
