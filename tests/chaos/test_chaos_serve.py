"""Serve under HTTP load while its processes are SIGKILLed: it heals, requests resume."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import psutil
import pytest
from tests_support import wait_for
from tests_support.chaos import on_dask, replace_killed_dask_workers
from tests_support.ports import free_port

import ember
from ember import serve


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0})
class Echo:
    def __call__(self, request):
        return {"pid": os.getpid()}


def _proxy_pid(port: int) -> int:
    for process in psutil.Process().children(recursive=True):
        try:
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
                    return process.pid
        except psutil.NoSuchProcess:
            pass
    raise AssertionError(f"no process listens on port {port}")


@serve.deployment(num_replicas=2, num_cpus=0)
class EchoOnDask:
    def __call__(self, request):
        return {"pid": os.getpid()}


class Load(threading.Thread):
    """Sequential requests until stopped; counts answers and failures."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.ok, self.failed = url, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            deadline = time.monotonic() + 120  # bounded, whatever happens
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    if client.get(self.url).status_code == 200:
                        self.ok += 1
                    else:
                        self.failed += 1
                except httpx.HTTPError:
                    self.failed += 1
                    time.sleep(0.01)


@pytest.fixture
def loaded():  # type: ignore[no-untyped-def]
    """A 2-replica deployment on a free port with a Load thread hitting it: (port, load)."""
    ember.shutdown()
    ember.init(num_cpus=2)
    port = free_port()
    try:
        serve.run(Echo.bind(), port=port)
        load = Load(f"http://127.0.0.1:{port}/")
        load.start()
        try:
            yield port, load
        finally:
            load.stop.set()
            load.join(30)
    finally:
        serve.shutdown()
        ember.shutdown()


def test_a_killed_proxy_is_replaced_on_the_same_port(loaded, repeats):
    port, load = loaded
    for _ in range(repeats):
        assert wait_for(lambda: load.ok > 20, timeout=30)
        os.kill(_proxy_pid(port), signal.SIGKILL)
        before = load.ok  # after the kill: what follows, a new proxy answered
        assert wait_for(lambda before=before: load.ok > before + 50, timeout=60), \
            f"no answers after the proxy was killed ({load.failed} failures)"
    print(f"proxy kills: {repeats}; requests answered {load.ok}, failed {load.failed}")
    assert httpx.get(load.url).status_code == 200


def test_a_killed_controller_restarts_and_keeps_its_replicas(loaded, repeats):
    _port, load = loaded
    from ember.serve import _client

    controller = _client.get_controller()
    url = load.url
    replicas = {httpx.get(url).json()["pid"] for _ in range(20)}
    for _ in range(repeats):
        assert wait_for(lambda: load.ok > 20, timeout=30)
        before = load.ok
        old = ember.get(controller.process_id.remote())
        os.kill(old, signal.SIGKILL)
        assert ember.get(controller.process_id.remote(), timeout=60) != old
        assert wait_for(lambda before=before: load.ok > before + 50, timeout=60)
        assert serve.status().applications["default"].status == "RUNNING"
    assert {httpx.get(url).json()["pid"] for _ in range(20)} == replicas, \
        "the restarted controller replaced replicas that were healthy"
    victim = replicas.pop()  # the restarted controller still heals its replicas
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len({httpx.get(url).json()["pid"] for _ in range(20)} - {victim})
                    == 2, timeout=60)
    print(f"controller kills: {repeats}; requests answered {load.ok}, failed {load.failed}")
    assert load.failed == 0, "requests failed while only the controller was down"


def test_a_killed_replica_is_replaced_while_requests_keep_coming(loaded, repeats):
    _, load = loaded
    url = load.url
    for _ in range(repeats):
        assert wait_for(lambda: load.ok > 20, timeout=30)
        victim = httpx.get(url).json()["pid"]
        before = load.ok
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda before=before: load.ok > before + 50, timeout=60)

        def replaced() -> bool:
            pids = {httpx.get(url).json()["pid"] for _ in range(20)}
            return victim not in pids and len(pids) == 2  # noqa: B023 - called at once, inside this iteration
        assert wait_for(replaced, timeout=60), "the dead replica was not replaced"
    print(f"replica kills: {repeats}; requests answered {load.ok}, failed {load.failed}")
    # GETs are idempotent: one whose replica died is answered by the other replica.
    assert load.failed == 0, f"{load.failed} requests failed"


def test_serve_on_dask_heals_when_the_workers_of_proxy_controller_and_replicas_die(repeats):
    """On Dask every serve process is an actor on a worker (several may share one): kill
    the worker of the proxy, of the controller and of a replica in turn, a fresh worker
    joining each time, and serving resumes with both replicas."""
    with on_dask(workers=3) as (address, processes):
        replace = replace_killed_dask_workers(address, processes)
        port = free_port()
        serve.run(EchoOnDask.bind(), port=port)
        load = Load(f"http://127.0.0.1:{port}/")
        load.start()
        from ember.serve import _client

        failed_after = {"proxy": 0, "controller": 0, "replica": 0}
        try:
            for round_ in range(repeats):
                for role in ("proxy", "controller", "replica"):
                    assert wait_for(lambda: load.ok > 20, timeout=30)
                    if role == "proxy":
                        victim = _proxy_pid(port)
                    elif role == "controller":
                        victim = ember.get(_client.get_controller().process_id.remote(),
                                           timeout=60)
                    else:
                        victim = httpx.get(load.url, timeout=10).json()["pid"]
                    before, failed_before = load.ok, load.failed
                    os.kill(victim, signal.SIGKILL)
                    replace(victim)
                    assert wait_for(lambda before=before: load.ok > before + 50, timeout=60), \
                        f"round {round_}: no answers after the {role}'s worker was killed " \
                        f"({load.failed} failures)"
                    failed_after[role] += load.failed - failed_before

            def healed() -> bool:
                try:
                    status = serve.status().applications["default"]
                except (ember.ActorDiedError, KeyError):  # the controller is restarting
                    return False
                return status.status == "RUNNING" and \
                    status.deployments["EchoOnDask"].replica_states == {"RUNNING": 2}
            assert wait_for(healed, timeout=60), serve.status()
        finally:
            load.stop.set()
            load.join(30)
            serve.shutdown()
        print(f"dask worker kills: {3 * repeats}; requests answered {load.ok}, "
              f"failed {load.failed} (after killing the worker of the {failed_after})")
        assert load.failed < 200 * repeats, f"{load.failed} requests failed"
