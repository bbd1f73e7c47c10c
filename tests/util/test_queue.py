"""ember.util.queue.Queue: Ray's actor-backed queue, shared by tasks and actors."""

from __future__ import annotations

import asyncio
import queue as stdlib_queue

import pytest

import ember
from ember.util.queue import Empty, Full, Queue

pytestmark = pytest.mark.usefixtures("session")


def test_items_come_out_in_order_and_the_size_is_known():
    q = Queue()
    for item in range(3):
        q.put(item)
    assert q.qsize() == 3 and len(q) == 3 and not q.empty()
    assert [q.get(timeout=30) for _ in range(3)] == [0, 1, 2]
    assert q.empty()
    q.shutdown()


def test_producers_and_consumers_in_tasks_share_it():
    q = Queue(maxsize=4)

    @ember.remote
    def produce(q, start, n):
        for i in range(start, start + n):
            q.put(i, timeout=60)   # waits for room: maxsize is smaller than the total
        return n

    @ember.remote
    def consume(q, n):
        return [q.get(timeout=60) for _ in range(n)]

    producers = [produce.remote(q, 0, 10), produce.remote(q, 100, 10)]
    taken = ember.get(consume.remote(q, 20), timeout=120)
    assert ember.get(producers, timeout=60) == [10, 10]
    assert sorted(taken) == sorted([*range(10), *range(100, 110)])
    q.shutdown()


def test_nowait_forms_raise_empty_and_full_at_once():
    q = Queue(maxsize=2)
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(stdlib_queue.Empty):  # the standard library's type catches it too
        q.get(block=False)
    q.put_nowait_batch([1, 2])
    assert q.full()
    with pytest.raises(Full):
        q.put_nowait(3)
    with pytest.raises(Full):
        q.put(3, timeout=0.2)
    with pytest.raises(Full):
        q.put_nowait_batch([3])
    assert q.get_nowait_batch(2) == [1, 2]
    with pytest.raises(Empty):
        q.get(timeout=0.2)
    q.shutdown()


def test_async_forms_work_in_a_coroutine():
    q = Queue()

    async def main():
        await q.put_async("a")
        return await q.get_async(timeout=30)

    assert asyncio.run(main()) == "a"
    q.shutdown()


@pytest.mark.parametrize("make", [lambda: Queue(maxsize=-1), lambda: Queue(maxsize="10")])
def test_a_bad_maxsize_names_the_argument(make):
    with pytest.raises(ValueError, match="maxsize"):
        make()
