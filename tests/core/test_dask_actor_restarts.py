"""Dask-only: an actor whose worker is lost is re-created up to max_restarts."""

from __future__ import annotations

import os
import signal

import pytest

import ember
from tests_support.dask_cluster import dask_cluster

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("max_restarts", [0, 1])
def test_dask_actor_on_a_lost_worker_restarts_or_dies(max_restarts):
    ember.shutdown()
    with dask_cluster(workers=2) as (address, workers):
        ember.init(address=address)
        try:
            @ember.remote
            class Host:
                def __init__(self):
                    self.calls = 0

                def pid(self):
                    self.calls += 1
                    return os.getpid(), self.calls

            actor = Host.options(max_restarts=max_restarts).remote()
            pid, _ = ember.get(actor.pid.remote(), timeout=60)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(ember.ActorDiedError):
                ember.get(actor.pid.remote(), timeout=60)
            if max_restarts:
                new_pid, calls = ember.get(actor.pid.remote(), timeout=60)
                assert new_pid != pid and calls == 1, "__init__ ran again on another worker"
            else:
                with pytest.raises(ember.ActorDiedError, match="restarted 0/0"):
                    ember.get(actor.pid.remote(), timeout=60)
        finally:
            ember.shutdown()
