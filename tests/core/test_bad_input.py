"""Bad input: each mistake gives a clear error naming the argument, and the engine lives on."""

from __future__ import annotations

import threading

import pytest

import ember

pytestmark = pytest.mark.usefixtures("session")


@ember.remote
def echo(x):
    return x


class Holder:
    def __init__(self):
        self.lock = threading.Lock()


MISTAKES = {
    "get of a plain value": (lambda: ember.get(3), TypeError, "ObjectRef"),
    "get of a list holding a non-ref": (lambda: ember.get([ember.put(1), 2]), TypeError, "item 1"),
    "negative get timeout": (lambda: ember.get(ember.put(1), timeout=-1), ValueError, "timeout"),
    "wait on a single ref": (lambda: ember.wait(ember.put(1)), TypeError, "list"),
    "wait for more than given": (lambda: ember.wait([ember.put(1)], num_returns=2), ValueError,
                                 "num_returns=2"),
    "negative wait timeout": (lambda: ember.wait([ember.put(1)], timeout=-0.5), ValueError, "timeout"),
    "unknown option": (lambda: echo.options(num_cpu=1), ValueError, "num_cpus"),
    "calling a remote function directly": (lambda: echo(1), TypeError, r"echo\.remote"),
    "negative num_cpus": (lambda: ember.remote(num_cpus=-1)(lambda: 1), ValueError, "num_cpus"),
    "non-int num_returns": (lambda: echo.options(num_returns="two"), ValueError, "num_returns"),
    "CPU in resources": (lambda: echo.options(resources={"CPU": 1}), ValueError, "num_cpus="),
    "unpicklable argument": (lambda: echo.remote({"a": [1, threading.Lock()]}), TypeError,
                             r"argument 0\['a'\]\[1\]"),
    "unpicklable attribute": (lambda: echo.remote(x=Holder()), TypeError, r"argument 'x'\.lock"),
    "put of a ref": (lambda: ember.put(ember.put(1)), TypeError, "ObjectRef"),
    "cancel of a non-ref": (lambda: ember.cancel(5), TypeError, "ObjectRef"),
    "remote with positional options": (lambda: ember.remote(1, 2), TypeError, "keyword"),
    "bad init backend": (lambda: ember.core.InitOptions if False else
                         __import__("ember.core._options", fromlist=["x"]).InitOptions(backend="spark"),
                         ValueError, "backend"),
}


@pytest.mark.parametrize("call,error,pattern", list(MISTAKES.values()), ids=list(MISTAKES))
def test_mistake_raises_a_clear_error_and_the_engine_keeps_running(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
    assert ember.get(echo.remote("still alive")) == "still alive"


def test_get_inside_the_drivers_own_event_loop_blocks_and_returns():
    """A notebook kernel (or the user's asyncio.run) runs a loop in the driver's main
    thread; the engine answers from its own threads, so a blocking get is fine there."""
    import asyncio

    async def main():
        ready, _ = ember.wait([echo.remote(2)], timeout=30)
        return ember.get(echo.remote(1), timeout=30), ember.get(ready[0])

    assert asyncio.run(main()) == (1, 2)


@ember.remote
class AsyncGetter:
    async def blocking_get(self):
        return ember.get(ember.put(1))

    async def blocking_wait(self):
        return ember.wait([ember.put(1)])


@pytest.mark.parametrize("method,call", [("blocking_get", "get"), ("blocking_wait", "wait")])
def test_blocking_call_inside_an_async_actor_method_tells_to_await(method, call):
    actor = AsyncGetter.remote()
    with pytest.raises(RuntimeError, match=rf"ember\.{call}\(\).*async actor.*await ref"):
        ember.get(getattr(actor, method).remote(), timeout=30)


def test_unpicklable_return_value_is_a_task_error():
    @ember.remote
    def returns_lock():
        return threading.Lock()

    with pytest.raises(TypeError, match="lock"):
        ember.get(returns_lock.remote())
