"""One core suite, two backends: the embedded engine and real Dask processes.

The dask leg starts a ``dask scheduler`` and two ``dask worker`` processes
(``--nworkers 1 --nthreads 1``) on 127.0.0.1 and tears them down after the module.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from tests_support import wait_for
from tests_support.dask_cluster import dask_cluster

import ember
from ember import (
    GetTimeoutError,
    InfeasibleResourcesError,
    NotSupportedOnBackend,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)


@pytest.fixture(scope="module", params=["local", pytest.param("dask", marks=pytest.mark.cluster)])
def backend(request):  # type: ignore[no-untyped-def]
    ember.shutdown()
    if request.param == "local":
        ember.init(num_cpus=2)
        yield "local", []
        ember.shutdown()
        return
    with dask_cluster(workers=2, resources="CPU=1") as (address, workers):
        ember.init(address=address)
        yield "dask", workers
        ember.shutdown()


@ember.remote
def add(a, b=0):
    return a + b


@ember.remote
def fail(message):
    raise ValueError(message)


def test_tasks_return_results(backend):
    assert ember.get(add.remote(1, 2)) == 3
    assert ember.get([add.remote(i) for i in range(10)]) == list(range(10))


def test_identical_calls_are_not_deduplicated(backend, tmp_path):
    @ember.remote
    def append(path):
        with open(path, "a") as handle:
            handle.write("x")
        return 0

    ember.get([append.remote(str(tmp_path / "log")) for _ in range(3)])
    assert (tmp_path / "log").read_text() == "xxx"


def test_only_top_level_refs_are_resolved(backend):
    @ember.remote
    def inspect(value, items, named=None):
        return value, type(items[0]).__name__, ember.get(items[0]), named

    one = ember.put(1)
    assert ember.get(inspect.remote(one, [ember.put("x")], named=one)) == (1, "ObjectRef", "x", 1)


def test_chained_and_nested_tasks(backend):
    ref = ember.put(0)
    for _ in range(5):
        ref = add.remote(ref, 1)
    assert ember.get(ref) == 5

    @ember.remote
    def parent(n):
        return sum(ember.get([add.remote(i) for i in range(n)]))

    assert ember.get(parent.remote(4)) == 6


def test_num_returns(backend):
    @ember.remote(num_returns=2)
    def pair():
        return "a", "b"

    first, second = pair.remote()
    assert ember.get([first, second]) == ["a", "b"]


def test_put_and_get_arrays(backend):
    array = np.arange(1 << 20, dtype=np.int64)
    ref = ember.put(array)
    np.testing.assert_array_equal(ember.get(ref), array)

    @ember.remote
    def total(values):
        return int(values.sum())

    assert ember.get(total.remote(ref)) == int(array.sum())


def test_wait_splits_ready_from_pending(backend):
    @ember.remote
    def slow():
        time.sleep(2)  # Dask cannot interrupt it: keep it short

    pending, done = slow.remote(), ember.put(1)
    ready, rest = ember.wait([pending, done], num_returns=1, timeout=10)
    assert ready == [done] and rest == [pending]
    ready, rest = ember.wait([pending, done], num_returns=2, timeout=0.2)
    assert ready == [done]
    ember.cancel(pending)


def test_user_errors_keep_their_type_and_traceback(backend):
    with pytest.raises(ValueError, match="broken") as info:
        ember.get(fail.remote("broken"))
    assert isinstance(info.value, TaskError)
    assert "fail" in str(info.value)
    with pytest.raises(ValueError, match="upstream"):
        ember.get(add.remote(fail.remote("upstream"), 1))


def test_get_timeout(backend):
    @ember.remote
    def slow():
        time.sleep(2)

    ref = slow.remote()
    with pytest.raises(GetTimeoutError):
        ember.get(ref, timeout=0.2)
    ember.cancel(ref)


def test_cancel_interrupts_a_running_task(backend, tmp_path):
    @ember.remote
    def busy(started, finished):
        open(started, "w").close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # pure Python: interruptible anywhere
            sum(range(1000))
        open(finished, "w").close()

    started, finished = tmp_path / "started", tmp_path / "finished"
    ref = busy.remote(str(started), str(finished))
    assert wait_for(started.exists, timeout=30)
    ember.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ember.get(ref, timeout=30)
    time.sleep(0.5)
    assert not finished.exists(), "the task went on running after cancel"
    assert ember.get(add.remote(1)) == 1


def test_infeasible_requests_raise_at_once(backend):
    with pytest.raises(InfeasibleResourcesError):
        add.options(num_cpus=16).remote(1)
    with pytest.raises(InfeasibleResourcesError):
        add.options(resources={"tpu": 1}).remote(1)


def test_cluster_resources_sum_the_workers(backend):
    assert ember.cluster_resources()["CPU"] == 2


def test_what_dask_cannot_do_says_so(backend):
    name, _ = backend
    if name != "dask":
        pytest.skip("the embedded engine supports these")
    with pytest.raises(NotSupportedOnBackend, match="retry_exceptions"):
        add.options(retry_exceptions=[ValueError]).remote(1)


def test_streaming_returns(backend):
    @ember.remote(num_returns="streaming")
    def squares(n):
        for i in range(n):
            yield i * i

    assert [ember.get(ref) for ref in squares.remote(4)] == [0, 1, 4, 9]

    @ember.remote(num_returns="streaming")
    def breaks():
        yield "ok"
        raise KeyError("mid-stream")

    stream = breaks.remote()
    assert ember.get(next(stream)) == "ok"
    with pytest.raises(KeyError, match="mid-stream"):
        next(stream)

    @ember.remote
    class Source:
        def items(self, n):
            yield from range(n)

    source = Source.remote()
    assert ember.get(list(source.items.options(num_returns="streaming").remote(3))) == [0, 1, 2]


def test_placement_groups_place_tasks_and_actors(backend):
    group = ember.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="SPREAD")
    assert ember.get(group.ready()) is True

    @ember.remote
    def where():
        return os.getpid()

    pids = ember.get([where.options(placement_group=group, placement_group_bundle_index=i)
                      .remote() for i in (0, 1)])
    assert all(isinstance(pid, int) for pid in pids)
    member = Counter.options(placement_group=group, placement_group_bundle_index=0).remote()
    assert ember.get(member.incr.remote()) == 1
    with pytest.raises(InfeasibleResourcesError):
        where.options(placement_group=group, num_cpus=2).remote()
    ember.remove_placement_group(group)
    with pytest.raises(InfeasibleResourcesError):
        ember.placement_group([{"CPU": 3}])


@pytest.mark.cluster
def test_a_task_on_a_killed_worker_is_retried_on_the_other(backend, tmp_path):
    name, workers = backend
    if name != "dask":
        pytest.skip("kills a dask worker process")
    started = tmp_path / "started"

    @ember.remote
    def long_task(marker):
        if not os.path.exists(marker):
            with open(marker, "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(60)
        return os.getpid()

    ref = long_task.remote(str(started))
    assert wait_for(lambda: started.exists() and started.read_text(), timeout=30)
    victim = int(started.read_text())
    os.kill(victim, signal.SIGKILL)
    survivor = ember.get(ref, timeout=60)
    assert survivor != victim and survivor in {w.pid for w in workers}
    assert not isinstance(survivor, WorkerCrashedError)


# -- actors ----------------------------------------------------------------------------
@ember.remote
class Counter:
    def __init__(self, start=0):
        self.value = start
        self.log = []

    def incr(self, by=1):
        self.value += by
        self.log.append(by)
        return self.value

    def history(self):
        return self.log


def test_actor_calls_run_in_order_with_state(backend):
    counter = Counter.remote(10)
    assert ember.get([counter.incr.remote(i) for i in range(1, 6)]) == [11, 13, 16, 20, 25]
    assert ember.get(counter.history.remote()) == [1, 2, 3, 4, 5]


def test_async_actor_interleaves(backend):
    @ember.remote
    class Waiter:
        def __init__(self):
            self.running = self.peak = 0

        async def work(self):
            import asyncio
            self.running += 1
            self.peak = max(self.peak, self.running)
            await asyncio.sleep(0.05)
            self.running -= 1
            return self.peak

    waiter = Waiter.remote()
    assert max(ember.get([waiter.work.remote() for _ in range(20)])) > 1


def test_actor_handles_travel_and_names_resolve(backend):
    counter = Counter.options(name="conformance-counter").remote()

    @ember.remote
    def bump(handle):
        return ember.get(handle.incr.remote(5))

    assert ember.get(bump.remote(counter)) == 5
    found = ember.get_actor("conformance-counter")
    assert ember.get(found.incr.remote()) == 6
    with pytest.raises(ValueError, match="no actor named"):
        ember.get_actor("nobody-has-this-name")


def test_actor_constructor_error_and_kill(backend):
    @ember.remote
    class Broken:
        def __init__(self):
            raise RuntimeError("bad config")

        def call(self):
            return 1

    with pytest.raises(ember.ActorDiedError, match="bad config"):
        ember.get(Broken.remote().call.remote(), timeout=60)
    counter = Counter.remote()
    assert ember.get(counter.incr.remote()) == 1
    ember.kill(counter)
    with pytest.raises(ember.ActorDiedError):
        ember.get(counter.incr.remote(), timeout=60)


def test_timeline_lists_finished_tasks(backend, tmp_path):
    ember.get([add.remote(i) for i in range(3)])
    events = ember.timeline(str(tmp_path / "trace.json"))
    assert len(events) >= 3 and all(event["ph"] == "X" for event in events)
