"""Actors: state, ordering, concurrency, async methods, names, handles, errors."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from tests_support import wait_for

import ember
from ember import ActorDiedError, TaskError

pytestmark = pytest.mark.usefixtures("session")


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

    def pid(self):
        return os.getpid()

    @ember.method(num_returns=2)
    def pair(self):
        return self.value, -self.value

    def fail(self):
        raise KeyError("no such thing")

    def big(self):
        return np.full(1 << 20, 5, dtype=np.uint8)


def test_actor_keeps_state_between_calls():
    counter = Counter.remote(10)
    assert ember.get(counter.incr.remote()) == 11
    assert ember.get(counter.incr.remote(5)) == 16


def test_calls_from_one_caller_run_in_submission_order():
    counter = Counter.remote()
    slow_arg = _slow_value.remote(0.2, 100)  # its call waits for this argument
    refs = [counter.incr.remote(1), counter.incr.remote(slow_arg), counter.incr.remote(2)]
    ember.get(refs)
    assert ember.get(counter.history.remote()) == [1, 100, 2]


@ember.remote
def _slow_value(delay, value):
    time.sleep(delay)
    return value


def test_each_actor_has_its_own_process():
    first, second = Counter.remote(), Counter.remote()
    pids = ember.get([first.pid.remote(), second.pid.remote()])
    assert len(set(pids)) == 2 and os.getpid() not in pids


def test_method_num_returns_from_decorator_and_options():
    counter = Counter.remote(3)
    positive, negative = counter.pair.remote()
    assert ember.get([positive, negative]) == [3, -3]
    a, b = counter.history.options(num_returns=1).remote(), counter.pair.remote()[0]
    assert ember.get(a) == [] and ember.get(b) == 3


def test_method_errors_are_task_errors_of_the_users_type():
    counter = Counter.remote()
    with pytest.raises(KeyError) as info:
        ember.get(counter.fail.remote())
    assert isinstance(info.value, TaskError) and "fail" in str(info.value)
    assert ember.get(counter.incr.remote()) == 1, "the actor survives its method's error"


def test_actor_results_are_zero_copy():
    counter = Counter.remote()
    ref = counter.big.remote()
    first, second = ember.get(ref), ember.get(ref)
    assert not first.flags.writeable
    assert first.__array_interface__["data"][0] == second.__array_interface__["data"][0]


def test_handles_can_be_passed_to_tasks_and_actors():
    counter = Counter.remote()

    @ember.remote
    def bump(handle, times):
        return ember.get([handle.incr.remote() for _ in range(times)])[-1]

    @ember.remote
    class Forwarder:
        def __init__(self, target):
            self.target = target

        def forward(self):
            return ember.get(self.target.incr.remote(10))

    assert ember.get(bump.remote(counter, 3)) == 3
    forwarder = Forwarder.remote(counter)
    assert ember.get(forwarder.forward.remote()) == 13


def test_tasks_can_create_actors():
    @ember.remote
    def make_and_use():
        counter = Counter.remote(1)
        return ember.get(counter.incr.remote())

    assert ember.get(make_and_use.remote()) == 2


def test_threaded_actor_runs_calls_concurrently():
    @ember.remote(max_concurrency=2)
    class Meeting:
        def __init__(self):
            self.barrier = threading.Barrier(2, timeout=20)

        def join(self):
            self.barrier.wait()  # only returns if both calls run at once
            return threading.get_ident()

    meeting = Meeting.remote()
    idents = ember.get([meeting.join.remote(), meeting.join.remote()])
    assert len(set(idents)) == 2


def test_async_actor_interleaves_calls():
    @ember.remote
    class AsyncWorker:
        def __init__(self):
            self.running = 0
            self.peak = 0

        async def work(self):
            import asyncio
            self.running += 1
            self.peak = max(self.peak, self.running)
            await asyncio.sleep(0.05)
            self.running -= 1
            return self.peak

        async def peak_seen(self):
            return self.peak

    worker = AsyncWorker.remote()
    ember.get([worker.work.remote() for _ in range(50)])
    assert ember.get(worker.peak_seen.remote()) > 1


def test_async_actor_can_await_refs():
    @ember.remote
    class Awaiter:
        async def double(self, refs):
            return 2 * await refs[0]

    assert ember.get(Awaiter.remote().double.remote([ember.put(21)])) == 42


def test_constructor_error_kills_the_actor_with_the_cause():
    @ember.remote
    class Broken:
        def __init__(self):
            raise RuntimeError("bad config")

        def call(self):
            return 1

    broken = Broken.remote()
    for _ in range(2):
        with pytest.raises(ActorDiedError, match="bad config"):
            ember.get(broken.call.remote())


def test_named_actors_are_found_by_name():
    Counter.options(name="shared-counter").remote(5)
    found = ember.get_actor("shared-counter")
    assert ember.get(found.incr.remote()) == 6
    with pytest.raises(ValueError, match="already exists"):
        Counter.options(name="shared-counter").remote()
    again = Counter.options(name="shared-counter", get_if_exists=True).remote()
    assert ember.get(again.incr.remote()) == 7
    with pytest.raises(ValueError, match="no actor named 'missing'"):
        ember.get_actor("missing")


def test_names_are_per_namespace():
    Counter.options(name="n", namespace="team-a").remote(1)
    Counter.options(name="n", namespace="team-b").remote(2)
    assert ember.get(ember.get_actor("n", namespace="team-a").incr.remote()) == 2
    assert ember.get(ember.get_actor("n", namespace="team-b").incr.remote()) == 3


def test_named_actor_is_found_from_a_task():
    Counter.options(name="from-task").remote(40)

    @ember.remote
    def use_named():
        return ember.get(ember.get_actor("from-task").incr.remote(2))

    assert ember.get(use_named.remote()) == 42


def test_killed_actor_fails_calls_and_frees_its_name():
    counter = Counter.options(name="doomed").remote()
    ember.get(counter.incr.remote())
    ember.kill(counter)
    with pytest.raises(ActorDiedError, match="ember.kill"):
        ember.get(counter.incr.remote())
    Counter.options(name="doomed").remote()  # the name is free again


def test_actor_ends_when_its_last_handle_is_gone():
    counter = Counter.remote()
    pid = ember.get(counter.pid.remote())
    del counter
    assert wait_for(lambda: not _alive(pid), timeout=20)


def test_detached_actor_outlives_its_handles():
    counter = Counter.options(name="keeper", lifetime="detached").remote(1)
    pid = ember.get(counter.pid.remote())
    del counter
    time.sleep(0.3)
    assert _alive(pid)
    assert ember.get(ember.get_actor("keeper").incr.remote()) == 2
    ember.kill(ember.get_actor("keeper"))


def test_actor_holding_a_cpu_gives_it_back_when_killed():
    holder = Counter.options(num_cpus=1).remote()
    ember.get(holder.incr.remote())
    assert ember.available_resources()["CPU"] == 1
    ember.kill(holder)
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def test_streaming_actor_method():
    @ember.remote
    class Source:
        def numbers(self, n):
            yield from range(n)

    source = Source.remote()
    refs = list(source.numbers.options(num_returns="streaming").remote(4))
    assert ember.get(refs) == [0, 1, 2, 3]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# -- misuse -----------------------------------------------------------------------------
def test_actor_misuse_gives_clear_errors():
    with pytest.raises(TypeError, match=r"Counter\.remote"):
        Counter()
    counter = Counter.remote()
    with pytest.raises(TypeError, match=r"\.incr\.remote"):
        counter.incr()
    with pytest.raises(AttributeError, match="its methods are: .*incr"):
        counter.increment  # noqa: B018 - the attribute access itself must raise
    with pytest.raises(TypeError, match="no public constructor|ActorClass.remote"):
        ember.ActorHandle()
    with pytest.raises(ValueError, match="max_concurrency"):
        Counter.options(max_concurrency=0)
    with pytest.raises(ValueError, match="unknown option"):
        Counter.options(num_retries=3)
    with pytest.raises(ValueError, match="num_cpus"):
        Counter.options(num_cpus=-1)
    assert ember.get(counter.incr.remote()) == 1


def test_a_killed_actors_handle_passed_to_a_task_fails_clearly():
    counter = Counter.remote()
    ember.get(counter.incr.remote())
    ember.kill(counter)

    @ember.remote
    def use(handle):
        return ember.get(handle.incr.remote())

    with pytest.raises(ActorDiedError, match="Counter.*ember.kill"):
        ember.get(use.remote(counter))


def test_local_mode_runs_actors_in_process():
    ember.shutdown()
    ember.init(local_mode=True)
    try:
        counter = Counter.remote(1)
        assert ember.get(counter.incr.remote()) == 2
        assert ember.get(counter.pid.remote()) == os.getpid()
        refs = list(_local_stream.remote(3))
        assert ember.get(refs) == [0, 1, 2]
        ember.kill(counter)
        with pytest.raises(ActorDiedError):
            ember.get(counter.incr.remote())
    finally:
        ember.shutdown()
        ember.init(num_cpus=2)


@ember.remote(num_returns="streaming")
def _local_stream(n):
    yield from range(n)


def test_get_from_an_actors_own_thread_survives_its_other_calls_finishing(session):
    """A blocked get belongs to whichever actor thread made it: another call of the actor
    ending meanwhile must not drop it (it once did: the get never returned)."""

    @ember.remote
    class Echo:
        def ping(self, x):
            return x

    @ember.remote
    class Caller:
        def __init__(self):
            self.done, self.error = 0, None
            threading.Thread(target=self.loop, daemon=True).start()

        def loop(self):
            try:
                for i in range(60):
                    echo = Echo.remote()
                    assert ember.get(echo.ping.remote(i), timeout=20) == i
                    ember.kill(echo)
                    self.done += 1
            except BaseException as error:  # noqa: BLE001 - any failure in the thread is reported to the test below
                self.error = repr(error)

        def progress(self):
            return self.done, self.error

    caller = Caller.options(max_concurrency=4).remote()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, error = ember.get(caller.progress.remote())  # calls ending while it waits
        assert error is None, error
        if done == 60:
            break
    assert done == 60
    ember.kill(caller)
