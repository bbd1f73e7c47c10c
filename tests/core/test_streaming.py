"""Streaming returns: items arrive while the generator runs, with back-pressure."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from tests_support import store_stats, wait_for

import ember
from ember import TaskError

pytestmark = pytest.mark.usefixtures("session")


@ember.remote(num_returns="streaming")
def count(n):
    yield from range(n)


def test_items_come_back_in_order():
    assert [ember.get(ref) for ref in count.remote(5)] == [0, 1, 2, 3, 4]


def test_first_item_arrives_before_the_generator_finishes(tmp_path):
    @ember.remote(num_returns="streaming")
    def waits_for_consumer(go):
        yield "first"
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield "second" if os.path.exists(go) else "timed out"

    stream = waits_for_consumer.remote(str(tmp_path / "go"))
    assert ember.get(next(stream)) == "first"
    (tmp_path / "go").touch()  # only possible if "first" arrived while it was running
    assert ember.get(next(stream)) == "second"
    with pytest.raises(StopIteration):
        next(stream)


def test_producer_pauses_when_items_are_not_consumed(tmp_path):
    @ember.remote(num_returns="streaming", generator_backpressure_num_objects=2)
    def producer(log):
        for i in range(50):
            with open(log, "a") as handle:
                handle.write(f"{i}\n")
            yield i

    log = tmp_path / "log"
    stream = producer.remote(str(log))
    first = next(stream)
    assert ember.get(first) == 0
    wait_for(lambda: log.exists(), timeout=10)
    time.sleep(0.5)  # give an unpaused producer time to run ahead
    produced = len(log.read_text().split())
    assert produced <= 4, f"producer ran ahead to {produced} items"
    assert [ember.get(ref) for ref in stream] == list(range(1, 50))


def test_an_error_mid_stream_raises_after_the_earlier_items():
    @ember.remote(num_returns="streaming")
    def breaks():
        yield 1
        raise ValueError("broken stream")

    stream = breaks.remote()
    assert ember.get(next(stream)) == 1
    with pytest.raises(ValueError, match="broken stream") as info:
        next(stream)
    assert isinstance(info.value, TaskError)


def test_dropping_the_generator_frees_unconsumed_items():
    @ember.remote(num_returns="streaming")
    def blocks():
        for _ in range(3):
            yield np.ones(4 << 20, dtype=np.uint8)

    baseline = store_stats()["arena_bytes_used"]
    stream = blocks.remote()
    ember.get(stream.completed())
    assert store_stats()["arena_bytes_used"] >= baseline + 12 << 20
    del stream
    assert wait_for(lambda: store_stats()["arena_bytes_used"] <= baseline)


def test_streams_can_be_consumed_inside_tasks():
    @ember.remote
    def total(n):
        return sum(ember.get(ref) for ref in count.remote(n))

    assert ember.get(total.remote(10)) == 45


def test_async_iteration():
    import asyncio

    async def consume():
        return [await ref async for ref in count.remote(3)]

    assert asyncio.run(consume()) == [0, 1, 2]
