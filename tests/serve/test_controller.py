"""The controller: replacing crashed and unhealthy replicas, rolling redeploys, delete,
shutdown, deploy failures, user_config — all against real processes and HTTP."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from tests_support import wait_for
from tests_support.ports import port_is_open

from ember import serve


@serve.deployment(num_replicas=2, num_cpus=0, health_check_period_s=0.2,
                  health_check_timeout_s=5)
class Pid:
    def __call__(self, request):
        return {"pid": os.getpid()}

    def pid(self):
        return os.getpid()


class Traffic:
    """Sends requests from a thread until stopped; counts statuses."""

    def __init__(self, url: str):
        self.url = url
        self.statuses: list[int] = []
        self.bodies: list[object] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.get(self.url)
                    self.statuses.append(response.status_code)
                    if response.status_code == 200:
                        self.bodies.append(response.json())
                except httpx.HTTPError:
                    self.statuses.append(-1)

    def finish(self) -> list[int]:
        self.stop.set()
        self.thread.join(timeout=30)
        return self.statuses


def _pids(handle, replicas=2):
    pids = set()
    deadline = time.monotonic() + 10
    while len(pids) < replicas and time.monotonic() < deadline:
        pids.add(handle.pid.remote().result())
    return pids


def test_killed_replica_is_replaced_while_traffic_flows(port):
    handle = serve.run(Pid.bind(), port=port)
    old = _pids(handle)
    assert len(old) == 2
    traffic = Traffic(f"http://127.0.0.1:{port}/")
    assert wait_for(lambda: len(traffic.statuses) > 20)
    victim = min(old)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: _running_pids(port) - old, timeout=30), "no new replica started"
    count = len(traffic.statuses)
    assert wait_for(lambda: len(traffic.statuses) > count + 20)
    statuses = traffic.finish()
    assert statuses[-20:] == [200] * 20, "requests after the replacement must succeed"
    assert all(body["pid"] != victim for body in traffic.bodies[-20:])
    deployment = serve.status().applications["default"].deployments["Pid"]
    assert deployment.status == "HEALTHY"
    assert deployment.replica_states == {"RUNNING": 2}


def _running_pids(port: int) -> set[int]:
    return {httpx.get(f"http://127.0.0.1:{port}/").json()["pid"] for _ in range(10)}


@serve.deployment(num_cpus=0, health_check_period_s=0.1, health_check_timeout_s=5)
class Flaky:
    def __init__(self):
        self.healthy = True

    def __call__(self, request):
        return os.getpid()

    def break_it(self):
        self.healthy = False

    def check_health(self):
        if not self.healthy:
            raise RuntimeError("lost the GPU")


def test_failing_health_check_replaces_the_replica(port):
    handle = serve.run(Flaky.bind(), port=port)
    first = httpx.get(f"http://127.0.0.1:{port}/").json()
    handle.break_it.remote().result()
    assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/").json() != first, timeout=20)
    assert wait_for(lambda: serve.status().applications["default"].status == "RUNNING")


def test_redeploy_rolls_replicas_without_failed_requests(port):
    @serve.deployment(num_replicas=2, num_cpus=0)
    class Versioned:
        def __init__(self, version):
            self.version = version

        async def __call__(self, request):
            return {"version": self.version}

    serve.run(Versioned.bind(1), port=port)
    traffic = Traffic(f"http://127.0.0.1:{port}/")
    assert wait_for(lambda: len(traffic.statuses) > 10)
    serve.run(Versioned.bind(2), port=port)  # returns once version 2 runs everywhere
    count = len(traffic.bodies)
    assert wait_for(lambda: len(traffic.bodies) > count + 10)
    statuses = traffic.finish()
    assert set(statuses) == {200}, f"failed requests during the rollout: {set(statuses)}"
    versions = [body["version"] for body in traffic.bodies]
    assert versions[0] == 1 and versions[-1] == 2
    assert wait_for(lambda: serve.status().applications["default"].deployments[
        "Versioned"].replica_states == {"RUNNING": 2})  # the old ones drained and exited


@serve.deployment(num_cpus=0, user_config={"threshold": 1})
class Configurable:
    def __init__(self):
        self.threshold = None
        self.pid = os.getpid()

    def reconfigure(self, config):
        self.threshold = config["threshold"]

    def __call__(self, request):
        return {"threshold": self.threshold, "pid": self.pid}


def test_changing_only_user_config_reconfigures_in_place(port):
    serve.run(Configurable.bind(), port=port)
    first = httpx.get(f"http://127.0.0.1:{port}/").json()
    assert first["threshold"] == 1
    serve.run(Configurable.options(user_config={"threshold": 5}).bind(), port=port)
    assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/").json()["threshold"] == 5)
    assert httpx.get(f"http://127.0.0.1:{port}/").json()["pid"] == first["pid"]


def test_delete_makes_routes_404_and_other_apps_keep_running(port):
    serve.run(Pid.options(num_replicas=1).bind(), name="a", route_prefix="/a", port=port)
    serve.run(Pid.options(num_replicas=1).bind(), name="b", route_prefix="/b", port=port)
    assert httpx.get(f"http://127.0.0.1:{port}/a").status_code == 200
    serve.delete("a")
    assert httpx.get(f"http://127.0.0.1:{port}/a").status_code == 404
    assert httpx.get(f"http://127.0.0.1:{port}/b").status_code == 200
    assert set(serve.status().applications) == {"b"}
    serve.delete("never-deployed")  # nothing to do


def test_shutdown_closes_the_port_and_status_is_empty(port):
    serve.run(Pid.options(num_replicas=1).bind(), port=port)
    assert port_is_open(port)
    serve.shutdown()
    assert not port_is_open(port)
    assert serve.status().applications == {}
    serve.shutdown()  # a second shutdown does nothing


def test_constructor_error_fails_run_with_the_error(port):
    @serve.deployment(num_cpus=0)
    class Broken:
        def __init__(self):
            raise FileNotFoundError("weights.pt is missing")

    with pytest.raises(RuntimeError, match="weights.pt is missing"):
        serve.run(Broken.bind(), port=port)
    app = serve.status().applications["default"]
    assert app.status == "DEPLOY_FAILED"
    assert app.deployments["Broken"].status == "DEPLOY_FAILED"


def test_route_prefix_taken_by_another_app_is_rejected(port):
    serve.run(Pid.options(num_replicas=1).bind(), name="first", route_prefix="/x", port=port)
    with pytest.raises(ValueError, match="already used by application 'first'"):
        serve.run(Pid.options(num_replicas=1).bind(), name="second", route_prefix="/x",
                  port=port)


def test_default_replica_resources_are_one_cpu_as_ray(port):
    import ember

    @serve.deployment
    class Default:
        def __call__(self, request):
            return "ok"

    before = ember.available_resources()["CPU"]
    serve.run(Default.options(num_replicas=2).bind(), port=port)
    assert ember.available_resources()["CPU"] == before - 2
    serve.run(Default.options(ray_actor_options={"num_cpus": 0.5}).bind(), port=port)
    assert wait_for(lambda: ember.available_resources()["CPU"] == before - 0.5)
