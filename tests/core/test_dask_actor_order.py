"""The Dask actor host runs each caller's calls in call order; a call cancelled while
it waits for its turn must not leave the caller's later calls waiting forever."""

from __future__ import annotations

import asyncio
import collections

import pytest

pytest.importorskip("distributed")

from ember.core.dask._actors import ActorHost


def _host() -> ActorHost:
    host = ActorHost.__new__(ActorHost)
    host.concurrency = 1
    host.next_seq = collections.defaultdict(int)
    host.results = collections.defaultdict(collections.OrderedDict)
    host.given_up = collections.defaultdict(set)
    host._turn = None
    host._slots = None
    ran: list[str] = []

    async def run(method, args_blob, slots, resolved):  # stands in for the user's method
        ran.append(method)
        return method
    host._run = run  # type: ignore[method-assign]
    host.ran = ran  # type: ignore[attr-defined]
    return host


def test_a_call_cancelled_before_its_turn_lets_the_later_calls_run():
    async def scenario() -> list[str]:
        host = _host()
        second = asyncio.ensure_future(host.invoke("c", 1, "second", b"", [], []))
        third = asyncio.ensure_future(host.invoke("c", 2, "third", b"", [], []))
        await asyncio.sleep(0.01)  # both wait for call 0
        second.cancel()            # its relay was cancelled: it never runs
        await asyncio.sleep(0.01)
        assert await host.invoke("c", 0, "first", b"", [], []) == "first"
        assert await asyncio.wait_for(third, 5) == "third"
        return host.ran  # type: ignore[attr-defined,no-any-return]

    assert asyncio.run(scenario()) == ["first", "third"]
