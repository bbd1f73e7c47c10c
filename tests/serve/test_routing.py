"""Power of two choices and the proxy's per-route queue (pure, no processes)."""

from __future__ import annotations

import asyncio
import random

import pytest
from ember.serve._proxy_links import Full, Route
from ember.serve._routing import choose


def test_picks_the_less_loaded_of_two():
    rng = random.Random(0)
    in_flight = {"a": 5, "b": 0}
    assert all(choose(["a", "b"], in_flight, rng=rng) == "b" for _ in range(20))


def test_load_spreads_over_many_replicas():
    rng = random.Random(1)
    in_flight: dict[str, int] = {}
    names = [f"r{i}" for i in range(4)]
    for _ in range(400):
        chosen = choose(names, in_flight, rng=rng)
        in_flight[chosen] = in_flight.get(chosen, 0) + 1
    assert max(in_flight.values()) - min(in_flight.values()) <= 2


@pytest.mark.parametrize("candidates, in_flight, expected", [
    ([], {}, None),
    (["a"], {"a": 2}, None),
    (["a"], {"a": 1}, "a"),
    (["a", "b", "c"], {"a": 2, "b": 2, "c": 1}, "c"),  # found past the two sampled
    (["a", "b"], {"a": 2, "b": 2}, None),
])
def test_full_replicas_are_never_chosen(candidates, in_flight, expected):
    assert choose(candidates, in_flight, limit=2, rng=random.Random(3)) == expected


def _route(max_ongoing: int, max_queued: int, replicas: int) -> Route:
    route = Route("/", "app", "dep")
    entry = {"app": "app", "deployment": "dep", "max_ongoing": max_ongoing,
             "max_queued": max_queued,
             "replicas": [(f"r{i}", {"address": "", "host": ""}, None) for i in range(replicas)]}
    route.update(entry, on_dead=lambda link: None)
    return route


def test_route_queues_then_refuses_when_the_queue_is_full():
    async def main():
        route = _route(max_ongoing=1, max_queued=1, replicas=1)
        first = await route.acquire()
        waiting = asyncio.ensure_future(route.acquire())
        await asyncio.sleep(0)
        assert len(route.waiters) == 1
        with pytest.raises(Full):
            await route.acquire()
        route.release(first)
        second = await waiting
        assert second is first and route.in_flight == {"r0": 1}

    asyncio.run(main())


def test_cancelled_waiter_leaves_the_queue():
    async def main():
        route = _route(max_ongoing=1, max_queued=5, replicas=1)
        link = await route.acquire()
        waiting = asyncio.ensure_future(route.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0)
        assert not route.waiters
        route.release(link)
        assert route.in_flight == {"r0": 0}

    asyncio.run(main())


def test_new_replicas_wake_waiters():
    async def main():
        route = _route(max_ongoing=1, max_queued=5, replicas=0)
        waiting = asyncio.ensure_future(route.acquire())
        await asyncio.sleep(0)
        route.update({"app": "app", "deployment": "dep", "max_ongoing": 1, "max_queued": 5,
                      "replicas": [("r9", {"address": "", "host": ""}, None)]},
                     on_dead=lambda link: None)
        assert (await waiting).replica_id == "r9"

    asyncio.run(main())
