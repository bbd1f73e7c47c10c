"""On a cluster that can grow, work waits for workers (with a warning), never fails fast."""

from __future__ import annotations

import re

import pytest
from tests_support import wait_for
from tests_support.dask_cluster import dask_cluster, start_worker, stop

import ember
from ember import InfeasibleResourcesError

pytestmark = pytest.mark.cluster


@ember.remote
def plus_one(x):
    return x + 1


def test_tasks_wait_for_a_cluster_scaling_from_zero(capsys):
    ember.shutdown()
    with dask_cluster(workers=0) as (address, _):
        ember.init(address=address)
        try:
            ref = plus_one.remote(41)             # no worker yet: waits, does not raise
            assert "waits: no Dask worker connected" in capsys.readouterr().err
            worker = start_worker(address)
            try:
                assert ember.get(ref, timeout=120) == 42
            finally:
                stop(worker)
        finally:
            ember.shutdown()


def test_tasks_wait_while_the_only_fitting_worker_restarts(capsys):
    ember.shutdown()
    with dask_cluster(workers=1, resources="CPU=1 foo=1") as (address, workers):
        ember.init(address=address)
        try:
            needs_foo = plus_one.options(resources={"foo": 1})
            assert ember.get(needs_foo.remote(1), timeout=60) == 2
            stop(workers[0])
            assert wait_for(lambda: not ember.cluster_resources().get("foo"), timeout=60)
            ref = needs_foo.remote(2)              # the foo worker is gone for now
            assert re.search(r"task .*plus_one.* waits", capsys.readouterr().err)
            replacement = start_worker(address, "CPU=1 foo=1", "w-again")
            try:
                assert ember.get(ref, timeout=120) == 3
            finally:
                stop(replacement)
            with pytest.raises(InfeasibleResourcesError, match="no Dask worker has that much"):
                plus_one.options(resources={"bar": 1}).remote(0)  # never offered: fails fast
        finally:
            ember.shutdown()
