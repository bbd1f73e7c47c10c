"""The autoscaling policy with a fake clock, and one real scale-up/scale-down."""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx
import pytest
from ember.serve._autoscaling import ScalingState, decide, wanted_replicas
from ember.serve._config import AutoscalingConfig
from tests_support import wait_for

from ember import serve

CONFIG = AutoscalingConfig(min_replicas=1, max_replicas=5, target_ongoing_requests=2,
                           upscale_delay_s=3, downscale_delay_s=10)


@pytest.mark.parametrize("ongoing, wanted", [(0, 1), (1, 1), (2, 1), (3, 2), (8, 4), (50, 5)])
def test_wanted_replicas_is_load_over_target_within_bounds(ongoing, wanted):
    assert wanted_replicas(CONFIG, ongoing) == wanted


def test_upscale_waits_for_upscale_delay():
    target, state = decide(CONFIG, ScalingState(), now=100.0, current=1, total_ongoing=6)
    assert (target, state.want_up_since) == (1, 100.0)
    target, state = decide(CONFIG, state, now=102.9, current=1, total_ongoing=6)
    assert target == 1
    target, state = decide(CONFIG, state, now=103.0, current=1, total_ongoing=6)
    assert (target, state) == (3, ScalingState())


def test_a_dip_in_load_resets_the_upscale_timer():
    _, state = decide(CONFIG, ScalingState(), now=0.0, current=1, total_ongoing=6)
    _, state = decide(CONFIG, state, now=2.0, current=1, total_ongoing=1)  # load gone
    assert state == ScalingState()
    target, state = decide(CONFIG, state, now=4.0, current=1, total_ongoing=6)
    assert (target, state.want_up_since) == (1, 4.0)


def test_downscale_waits_for_downscale_delay():
    target, state = decide(CONFIG, ScalingState(), now=0.0, current=4, total_ongoing=0)
    assert (target, state.want_down_since) == (4, 0.0)
    target, state = decide(CONFIG, state, now=9.0, current=4, total_ongoing=0)
    assert target == 4
    target, _ = decide(CONFIG, state, now=10.0, current=4, total_ongoing=0)
    assert target == 1


def test_count_outside_the_bounds_is_clamped_at_once():
    assert decide(CONFIG, ScalingState(), now=0.0, current=9, total_ongoing=50)[0] == 5
    assert decide(CONFIG, ScalingState(), now=0.0, current=0, total_ongoing=0)[0] == 1


@pytest.mark.parametrize("config, message", [
    ({"min_replicas": 3, "max_replicas": 2}, "min_replicas .3. is larger than max_replicas"),
    ({"max_replicas": 0}, "max_replicas'. must be an int >= 1"),
    ({"target_ongoing_requests": 0}, "target_ongoing_requests'. must be a number > 0"),
    ({"upscale_delay_s": -1}, "upscale_delay_s'. must be a number >= 0"),
    ({"initial_replicas": 9, "max_replicas": 2}, "initial_replicas .9. must lie between"),
    ({"max_replica": 2}, "unknown key 'max_replica' .did you mean 'max_replicas'.. for autoscaling_config"),
])
def test_bad_autoscaling_config_names_the_key(config, message):
    with pytest.raises((ValueError, TypeError), match=message):
        serve.deployment(autoscaling_config=config)(lambda request: "x")


@serve.deployment(num_cpus=0, max_ongoing_requests=10, autoscaling_config={
    "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 1,
    "upscale_delay_s": 0, "downscale_delay_s": 0.5, "metrics_interval_s": 0.1})
class Busy:
    async def __call__(self, request):
        await asyncio.sleep(float(request.query_params["s"]))
        return "ok"


def _running() -> int:
    deployment = serve.status().applications["default"].deployments["Busy"]
    return deployment.replica_states.get("RUNNING", 0)


def test_load_adds_replicas_and_idleness_removes_them(port):
    serve.run(Busy.bind(), port=port)
    assert _running() == 1
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(httpx.get, f"http://127.0.0.1:{port}/", params={"s": 3},
                            timeout=30) for _ in range(4)]
        assert wait_for(lambda: _running() == 2, timeout=20)
        assert [f.result().status_code for f in slow] == [200] * 4
    assert wait_for(lambda: _running() == 1, timeout=20)
