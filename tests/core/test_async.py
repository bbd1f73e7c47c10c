"""ObjectRefs are awaitable; ``future()`` bridges to concurrent.futures."""

from __future__ import annotations

import asyncio

import pytest
from tests_support import wait_for

import ember

pytestmark = pytest.mark.usefixtures("session")


@ember.remote
def square(x):
    return x * x


@ember.remote
def fail():
    raise LookupError("missing")


def test_await_ref_gives_the_value():
    async def main():
        return await square.remote(4), await asyncio.gather(*[square.remote(i) for i in range(3)])

    assert asyncio.run(main()) == (16, [0, 1, 4])


def test_await_ref_raises_the_task_error():
    async def main():
        await fail.remote()

    with pytest.raises(LookupError, match="missing"):
        asyncio.run(main())


def test_future_bridges_to_concurrent_futures():
    assert square.remote(5).future().result(timeout=30) == 25


@ember.remote
class Napper:
    def __init__(self):
        self.cancelled = 0

    async def nap(self, started):
        import asyncio
        import pathlib

        pathlib.Path(started).touch()
        try:
            await asyncio.sleep(120)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "woke"

    async def cancellations(self):
        return self.cancelled


def test_cancel_of_a_running_async_actor_call_cancels_its_coroutine(tmp_path):
    napper = Napper.remote()
    started = tmp_path / "started"
    ref = napper.nap.remote(str(started))
    assert wait_for(started.exists, timeout=30)
    ember.cancel(ref)
    with pytest.raises(ember.TaskCancelledError):
        ember.get(ref, timeout=30)
    assert ember.get(napper.cancellations.remote(), timeout=30) == 1  # the actor lives on
