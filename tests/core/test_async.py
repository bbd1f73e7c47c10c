"""ObjectRefs are awaitable; ``future()`` bridges to concurrent.futures."""

from __future__ import annotations

import asyncio

import pytest

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
