"""Replicas the cluster has no room for: serve.run warns, then gives up with the numbers
instead of waiting forever."""

from __future__ import annotations

import pytest

import ember
from ember import serve


@serve.deployment(num_replicas=3, ray_actor_options={"num_cpus": 1})
class TooBig:
    def __call__(self, request):
        return "hi"


def test_replicas_that_cannot_be_placed_warn_then_fail_with_the_numbers(port, monkeypatch,
                                                                        capfd):
    monkeypatch.setenv("EMBER_WAIT_WARNING_S", "0.3")
    monkeypatch.setenv("EMBER_SERVE_PLACEMENT_TIMEOUT_S", "1.5")
    free = int(ember.available_resources()["CPU"])
    big = TooBig.options(num_replicas=free + 1)
    with pytest.raises(RuntimeError) as raised:
        serve.run(big.bind(), port=port)
    message = str(raised.value)
    assert f"1 of {free + 1} replicas of 'TooBig' cannot be placed" in message
    assert "needs {'CPU': 1.0}" in message and "free now: {'CPU': 0.0}" in message
    assert "EMBER_SERVE_PLACEMENT_TIMEOUT_S" in message
    assert "ember.serve: application 'default' is waiting" in capfd.readouterr().err
    status = serve.status().applications["default"]
    assert status.status == "DEPLOYING" and "cannot be placed" in status.message
