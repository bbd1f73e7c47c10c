"""On a Dask cluster, failures say what happened: a lost object, a lost scheduler."""

from __future__ import annotations

import numpy as np
import psutil
import pytest
from tests_support import wait_for
from tests_support.dask_cluster import dask_cluster

import ember
from ember import EmberError, ObjectLostError, TaskCancelledError

pytestmark = pytest.mark.cluster


@ember.remote
def slow_square(x):
    import time

    time.sleep(30)
    return x * x


def test_a_put_object_on_a_killed_worker_is_an_object_lost_error():
    ember.shutdown()
    with dask_cluster(workers=2) as (address, workers):
        ember.init(address=address)
        try:
            refs = [ember.put(np.arange(10) + i) for i in range(8)]
            assert all(int(v[0]) == i for i, v in enumerate(ember.get(refs, timeout=60)))
            workers[0].kill()
            workers[0].wait()
            assert wait_for(lambda: ember.cluster_resources()["CPU"] == 1, timeout=60)
            outcomes = []
            for ref in refs:
                try:
                    ember.get(ref, timeout=60)
                    outcomes.append("ok")
                except ObjectLostError as error:
                    assert "was lost" in str(error) and "put it again" in str(error)
                    outcomes.append("lost")
            assert "lost" in outcomes and "ok" in outcomes  # the survivor's objects are fine
            cancelled = slow_square.remote(3)
            ember.cancel(cancelled)
            with pytest.raises(TaskCancelledError):  # a cancel is still a cancel
                ember.get(cancelled, timeout=60)
        finally:
            ember.shutdown()


def test_a_dead_scheduler_is_one_clear_error_naming_it():
    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        ember.init(address=address)
        try:
            ref = ember.put(1)
            assert ember.get(ref, timeout=60) == 1
            for process in psutil.Process().children(recursive=True):
                if " scheduler " in " ".join(process.cmdline()) + " ":
                    process.kill()
            for call in (lambda: ember.get(ref, timeout=60), lambda: ember.put(2),
                         lambda: slow_square.remote(1)):
                with pytest.raises(EmberError, match=address.replace(".", r"\.")):
                    call()
        finally:
            ember.shutdown()


@ember.remote
def worker_name():
    from distributed import get_worker

    return get_worker().name


def test_a_placement_group_bundle_on_a_lost_worker_is_placed_again():
    import time

    ember.shutdown()
    with dask_cluster(workers=2) as (address, workers):
        ember.init(address=address)
        try:
            group = ember.placement_group([{"CPU": 1}])
            ember.get(group.ready(), timeout=60)
            in_group = worker_name.options(placement_group=group)
            first = ember.get(in_group.remote(), timeout=60)
            victim = workers[int(first[1:])]      # the dask_cluster workers are w0, w1
            victim.kill()
            victim.wait()
            assert wait_for(lambda: ember.cluster_resources()["CPU"] == 1, timeout=60)
            second = ember.get(in_group.remote(), timeout=60)
            assert second != first
            started = time.monotonic()
            ember.remove_placement_group(group)   # never waits on the dead worker
            assert time.monotonic() - started < 20

            spread = ember.placement_group([{"CPU": 1}], strategy="STRICT_SPREAD")
            ember.get(spread.ready(), timeout=60)
        finally:
            ember.shutdown()


def test_a_bundle_that_no_remaining_worker_can_hold_fails_clearly():
    ember.shutdown()
    with dask_cluster(workers=2) as (address, workers):
        ember.init(address=address)
        try:
            group = ember.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
            ember.get(group.ready(), timeout=60)
            workers[0].kill()
            workers[0].wait()
            assert wait_for(lambda: ember.cluster_resources()["CPU"] == 1, timeout=60)
            with pytest.raises(ember.InfeasibleResourcesError,
                               match="left the cluster.*add workers"):
                worker_name.options(placement_group=group, placement_group_bundle_index=0,
                                    ).remote()
                worker_name.options(placement_group=group, placement_group_bundle_index=1,
                                    ).remote()
        finally:
            ember.shutdown()
