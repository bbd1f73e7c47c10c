"""A killed controller is restarted by the engine and takes back what it ran: the
applications, their running replicas (kept, not replaced) and the proxy."""

from __future__ import annotations

import os
import signal

import httpx
from ember.serve import _client
from tests_support import wait_for

import ember
from ember import serve


@serve.deployment(num_replicas=2, num_cpus=0)
class Pid:
    def __call__(self, request=None):
        return {"pid": os.getpid()}


@serve.deployment(num_cpus=0)
class Doubler:
    def __call__(self, x):
        return 2 * x


def _replica_pids(port):
    return {httpx.get(f"http://127.0.0.1:{port}/").json()["pid"] for _ in range(20)}


def _kill_controller():
    controller = _client.get_controller()
    old = ember.get(controller.process_id.remote())
    os.kill(old, signal.SIGKILL)
    assert ember.get(controller.process_id.remote(), timeout=60) != old


def test_a_restarted_controller_keeps_applications_replicas_and_proxy(port, capfd):
    serve.run(Pid.bind(), port=port)
    serve.run(Doubler.bind(), name="internal", route_prefix=None)
    replicas = _replica_pids(port)
    _kill_controller()
    status = serve.status()
    assert {name: app.status for name, app in status.applications.items()} == \
        {"default": "RUNNING", "internal": "RUNNING"}
    assert status.proxy["port"] == port
    assert _replica_pids(port) == replicas
    assert serve.get_app_handle("internal").remote(21).result() == 42
    assert wait_for(lambda: "the controller restarted" in capfd.readouterr().out, timeout=10)


def test_after_a_restart_the_controller_still_deploys_deletes_and_heals(port):
    serve.run(Pid.bind(), port=port)
    _kill_controller()
    serve.run(Doubler.bind(), name="internal", route_prefix=None)
    assert serve.get_app_handle("internal").remote(4).result() == 8
    serve.delete("internal")
    assert "internal" not in serve.status().applications
    victim = _replica_pids(port).pop()
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in (pids := _replica_pids(port)) and len(pids) == 2,
                    timeout=60)


def test_shutdown_after_a_restart_leaves_nothing_for_the_next_run(port):
    serve.run(Pid.bind(), port=port)
    _kill_controller()
    serve.shutdown()
    assert serve.status().applications == {}
    serve.run(Doubler.bind(), name="internal", route_prefix=None)
    _kill_controller()  # a restart now must not bring back the shut-down application
    assert set(serve.status().applications) == {"internal"}
