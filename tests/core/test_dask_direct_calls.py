"""Dask: a driver's actor call goes straight to the actor's worker (no task, no
scheduler), and its result still works everywhere a ref goes."""

from __future__ import annotations

import time

import pytest
from tests_support.dask_cluster import dask_cluster

import ember

pytestmark = pytest.mark.cluster


@ember.remote
class Counter:
    def __init__(self):
        self.value = 0

    def add(self, amount):
        self.value += amount
        return self.value

    def slow(self, seconds):
        time.sleep(seconds)
        return "done"

    def fail(self):
        raise KeyError("missing")


@ember.remote
def double(x):
    return 2 * x


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    ember.shutdown()
    with dask_cluster(workers=2) as (address, _):
        ember.init(address=address)
        try:
            yield
        finally:
            ember.shutdown()


def _scheduler_tasks() -> int:
    from ember.core._context import current

    return current().client.run_on_scheduler(
        lambda dask_scheduler=None: len(dask_scheduler.tasks))


def test_calls_do_not_go_through_the_scheduler_and_keep_their_order(cluster):
    counter = Counter.remote()
    ember.get(counter.add.remote(0))
    before = _scheduler_tasks()
    refs = [counter.add.remote(1) for _ in range(200)]
    assert _scheduler_tasks() - before < 10  # no relay task per call (was one each)
    assert ember.get(refs) == list(range(1, 201))


def test_a_direct_result_is_an_argument_of_tasks_and_other_calls(cluster):
    counter = Counter.remote()
    ref = counter.add.remote(21)
    assert ember.get(double.remote(ref)) == 42        # a task argument
    assert ember.get(counter.add.remote(ref)) == 42   # another call's argument (21 + 21)
    nested = ember.put({"inside": ref})               # nested in another object
    assert ember.get(ember.get(nested)["inside"]) == 21


def test_errors_keep_their_type_and_cancel_stops_the_wait(cluster):
    counter = Counter.remote()
    with pytest.raises(KeyError):
        ember.get(counter.fail.remote())
    slow = counter.slow.remote(2)
    ember.cancel(slow)
    with pytest.raises(ember.TaskCancelledError):
        ember.get(slow, timeout=10)
    assert ember.get(counter.add.remote(1)) == 1  # the actor still works


@ember.remote
def _kind(value):
    return type(value).__name__


@ember.remote(num_returns=2)
def _pair(value):
    return value, value


def test_a_failed_direct_result_fails_the_tasks_and_calls_that_take_it(cluster):
    """As in Ray: what depends on a failed call fails with its error, unrun."""
    counter = Counter.remote()
    failed = counter.fail.remote()
    with pytest.raises(KeyError):
        ember.get(failed)
    with pytest.raises(KeyError):
        ember.get(_kind.remote(failed))              # a task argument
    with pytest.raises(KeyError):
        ember.get(counter.add.remote(failed))        # another call's argument
    for half in _pair.remote(failed):                # each value of a multi-return task
        with pytest.raises(KeyError):
            ember.get(half)
    assert ember.get(counter.add.remote(5)) == 5     # the actor ran none of them


@ember.remote
def _fire_and_forget(counter, times):
    for _ in range(times):
        counter.add.remote(1)  # refs dropped at once: the calls must still run, in order
    return ember.get(counter.add.remote(0), timeout=60)


def test_calls_whose_refs_are_dropped_still_run_and_do_not_block_later_ones(cluster):
    counter = Counter.remote()
    assert ember.get(_fire_and_forget.remote(counter, 30), timeout=90) == 30


@ember.remote(num_returns="streaming")
def _count_to(n):
    yield from range(n)


def test_handles_and_generators_print_on_dask(cluster):
    counter = Counter.remote()
    assert repr(counter).startswith("Actor(Counter, actor-Counter-")
    items = _count_to.remote(2)
    assert repr(items).startswith("ObjectRefGenerator(task ")
    assert [ember.get(ref) for ref in items] == [0, 1]
