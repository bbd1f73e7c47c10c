"""Placement groups: all-or-nothing reservations that tasks and actors run inside."""

from __future__ import annotations

import pytest
from tests_support import wait_for

import ember
from ember import InfeasibleResourcesError, PlacementGroupSchedulingStrategy

pytestmark = pytest.mark.usefixtures("session")


@ember.remote
def one():
    return 1


def test_group_reserves_all_bundles_at_once():
    group = ember.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="PACK")
    assert ember.get(group.ready()) is True
    assert group.wait(5)
    assert ember.available_resources()["CPU"] == 0
    ember.remove_placement_group(group)
    assert ember.available_resources()["CPU"] == 2


def test_group_waits_until_everything_fits():
    first = ember.placement_group([{"CPU": 2}])
    second = ember.placement_group([{"CPU": 1}, {"CPU": 1}])
    assert first.wait(5)
    assert not second.wait(0.2), "only part of it fits: nothing is reserved"
    ember.remove_placement_group(first)
    assert second.wait(10)
    ember.remove_placement_group(second)


@pytest.mark.parametrize("spelling", ["options", "strategy"])
def test_tasks_run_inside_a_bundle(spelling):
    group = ember.placement_group([{"CPU": 1}, {"CPU": 1}])
    ember.get(group.ready())
    if spelling == "options":
        task = one.options(placement_group=group, placement_group_bundle_index=1)
    else:
        task = one.options(scheduling_strategy=PlacementGroupSchedulingStrategy(group, 0))
    assert ember.get([task.remote() for _ in range(4)]) == [1] * 4
    assert ember.get(one.options(placement_group=group).remote()) == 1
    ember.remove_placement_group(group)


def test_actors_run_inside_a_bundle_and_die_with_the_group():
    @ember.remote(num_cpus=1)
    class Member:
        def ping(self):
            return "pong"

    group = ember.placement_group([{"CPU": 1}])
    member = Member.options(placement_group=group, placement_group_bundle_index=0).remote()
    assert ember.get(member.ping.remote()) == "pong"
    assert ember.available_resources()["CPU"] == 1, "the actor uses the group's CPU"
    ember.remove_placement_group(group)
    with pytest.raises(ember.ActorDiedError):
        ember.get(member.ping.remote())
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def test_groups_and_tasks_can_be_used_from_tasks():
    @ember.remote
    def reserve_and_run():
        group = ember.placement_group([{"CPU": 1}])
        ember.get(group.ready())
        result = ember.get(one.options(placement_group=group).remote())
        ember.remove_placement_group(group)
        return result

    assert ember.get(reserve_and_run.remote()) == 1


BAD_GROUPS = {
    "more CPUs than the machine": ([{"CPU": 3}], "PACK", InfeasibleResourcesError, "3 CPU"),
    "strict spread on one machine": ([{"CPU": 1}, {"CPU": 1}], "STRICT_SPREAD",
                                     InfeasibleResourcesError, "STRICT_SPREAD"),
    "unknown strategy": ([{"CPU": 1}], "SCATTER", ValueError, "strategy"),
    "no bundles": ([], "PACK", ValueError, "non-empty"),
    "empty bundle": ([{}], "PACK", ValueError, "bundle 0"),
    "zero bundle": ([{"CPU": 0}], "PACK", ValueError, "reserves nothing"),
    "negative amount": ([{"CPU": -1}], "PACK", ValueError, "non-negative"),
}


@pytest.mark.parametrize("bundles,strategy,error,pattern", list(BAD_GROUPS.values()),
                         ids=list(BAD_GROUPS))
def test_bad_groups_are_rejected_clearly(bundles, strategy, error, pattern):
    with pytest.raises(error, match=pattern):
        ember.placement_group(bundles, strategy=strategy)
    assert ember.available_resources()["CPU"] == 2


def test_task_that_cannot_fit_its_bundle_is_rejected():
    group = ember.placement_group([{"CPU": 1}])
    with pytest.raises(InfeasibleResourcesError, match="bundle"):
        one.options(placement_group=group, num_cpus=2).remote()
    with pytest.raises(ValueError, match="out of range"):
        one.options(placement_group=group, placement_group_bundle_index=3)
    ember.remove_placement_group(group)
    with pytest.raises(ValueError, match="removed"):
        one.options(placement_group=group).remote()
