"""The internal key-value store: written anywhere, read anywhere, outlives its writer."""

from __future__ import annotations

import os
import signal

import pytest
from ember.core.internal_kv import kv_get, kv_put
from tests_support.dask_cluster import dask_cluster

import ember


@ember.remote
def read(key):
    return kv_get(key)


@ember.remote(max_restarts=1, max_task_retries=1)
class Keeper:
    """Counts its own starts in the store, so a restarted one knows it was restarted."""

    def __init__(self):
        starts = int(kv_get("keeper-starts") or b"0") + 1
        kv_put("keeper-starts", str(starts).encode())
        self.starts = starts

    def info(self):
        return os.getpid(), self.starts


def _round_trip():
    kv_put("greeting", b"hello")
    assert kv_get("greeting") == b"hello"
    assert ember.get(read.remote("greeting")) == b"hello"
    kv_put("greeting", None)
    assert kv_get("greeting") is None
    assert ember.get(read.remote("greeting")) is None


def test_values_written_by_the_driver_are_read_in_tasks_and_deleted_with_none():
    ember.shutdown()
    ember.init(num_cpus=2)
    try:
        _round_trip()
    finally:
        ember.shutdown()


def test_a_restarted_actor_reads_what_its_first_life_wrote():
    ember.shutdown()
    ember.init(num_cpus=2)
    try:
        keeper = Keeper.remote()
        pid, starts = ember.get(keeper.info.remote())
        assert starts == 1
        os.kill(pid, signal.SIGKILL)
        _, starts = ember.get(keeper.info.remote(), timeout=60)
        assert starts == 2
    finally:
        ember.shutdown()


def test_local_mode_keeps_values_in_the_process():
    ember.shutdown()
    ember.init(local_mode=True)
    try:
        _round_trip()
    finally:
        ember.shutdown()


def test_bad_keys_and_values_are_named():
    with pytest.raises(TypeError, match="key must be"):
        kv_put("", b"x")
    with pytest.raises(TypeError, match="value must be bytes"):
        kv_put("k", "text")


@pytest.mark.cluster
def test_on_dask_values_live_in_the_scheduler():
    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        ember.init(address=address)
        try:
            _round_trip()
        finally:
            ember.shutdown()
