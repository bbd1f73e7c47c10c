"""Never a silent wait: a warning when something waits on actors or placement groups."""

from __future__ import annotations

import re

import pytest
from ember.core.embedded._waits import Holder, Waiter, WaitWatch
from tests_support import wait_for

import ember


def _waiter(since: float = 0.0, free: float = 0.0, released: float = 0.0) -> Waiter:
    return Waiter(key="shape", what="task 'f'", demand={"CPU": 1.0}, since=since,
                  free={"CPU": free}, released_later={"CPU": released} if released else {})


HOLDERS = [Holder("placement group 'pg'", {"CPU": 2.0})]


def test_a_wait_behind_a_placement_group_is_told_once_after_the_delay():
    watch = WaitWatch(after_s=5)
    assert watch.check(4.9, [_waiter()], HOLDERS, {"CPU": 2.0}) == []
    [message] = watch.check(5.0, [_waiter()], HOLDERS, {"CPU": 2.0})
    assert message.startswith("task 'f' has waited 5 s for {CPU: 1}: CPU 0/2 free; "
                              "placement group 'pg' holds CPU 2/2.")
    assert "ember.remove_placement_group" in message and "ember.kill" not in message
    assert watch.check(60.0, [_waiter()], HOLDERS, {"CPU": 2.0}) == []  # once


def test_a_queue_behind_running_tasks_is_not_a_stuck_wait():
    watch = WaitWatch(after_s=1)
    assert watch.check(100.0, [_waiter(released=2.0)], [], {"CPU": 2.0}) == []


def test_a_thing_that_started_and_waits_again_is_told_again():
    watch = WaitWatch(after_s=1)
    assert len(watch.check(2.0, [_waiter()], HOLDERS, {"CPU": 2.0})) == 1
    assert watch.check(3.0, [], HOLDERS, {"CPU": 2.0}) == []
    assert len(watch.check(9.0, [_waiter(since=5.0)], HOLDERS, {"CPU": 2.0})) == 1


@pytest.fixture
def quick_warnings(monkeypatch):  # type: ignore[no-untyped-def]
    ember.shutdown()
    monkeypatch.setenv("EMBER_WAIT_WARNING_S", "0.5")
    ember.init(num_cpus=2)
    yield
    ember.shutdown()


def _stderr_until(capsys, pattern: str) -> str:
    seen: list[str] = []

    def found() -> bool:
        seen.append(capsys.readouterr().err)
        return re.search(pattern, "".join(seen)) is not None
    assert wait_for(found, timeout=30), "".join(seen)
    return "".join(seen)


def test_a_task_behind_a_placement_group_holding_every_cpu_warns(quick_warnings, capsys):
    group = ember.placement_group([{"CPU": 2}], name="everything")
    ember.get(group.ready(), timeout=30)

    @ember.remote
    def one():
        return 1

    ref = one.remote()
    text = _stderr_until(capsys, r"task 'one' has waited")
    assert "placement group 'everything' holds CPU 2/2" in text
    ember.remove_placement_group(group)
    assert ember.get(ref, timeout=30) == 1


def test_an_actor_behind_other_actors_warns_naming_them(quick_warnings, capsys):
    @ember.remote(num_cpus=1)
    class Replica:
        def ping(self):
            return "pong"

    replicas = [Replica.remote() for _ in range(3)]
    assert ember.get([r.ping.remote() for r in replicas[:2]], timeout=30) == ["pong"] * 2
    text = _stderr_until(capsys, r"actor 'Replica' has waited")
    assert len(re.findall(r"actor Replica \(pid \d+\) holds CPU 1/2", text)) == 2
    assert "ember.kill" in text
    ember.kill(replicas[0])
    assert ember.get(replicas[2].ping.remote(), timeout=30) == "pong"


def test_a_placement_group_that_cannot_be_reserved_warns(quick_warnings, capsys):
    first = ember.placement_group([{"CPU": 2}], name="first")
    ember.get(first.ready(), timeout=30)
    second = ember.placement_group([{"CPU": 1}], name="second")
    text = _stderr_until(capsys, r"placement group 'second' has waited")
    assert "placement group 'first' holds CPU 2/2" in text
    ember.remove_placement_group(first)
    assert ember.get(second.ready(), timeout=30) is True


@pytest.mark.parametrize("level,error", [("LOUD", ValueError), (True, TypeError)])
def test_a_bad_logging_level_names_the_argument(level, error):
    ember.shutdown()
    with pytest.raises(error, match="logging_level"):
        ember.init(logging_level=level)
