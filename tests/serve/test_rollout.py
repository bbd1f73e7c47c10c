"""Which replicas to start and stop (pure: no processes)."""

from __future__ import annotations

from ember.serve._rollout import Plan, ReplicaView, plan, room_for
from ember.serve._status import ReplicaState

RUNNING, STARTING, STOPPING = ReplicaState.RUNNING, ReplicaState.STARTING, ReplicaState.STOPPING


def views(*specs: tuple[str, str, ReplicaState]) -> list[ReplicaView]:
    return [ReplicaView(*spec) for spec in specs]


def test_fresh_deployment_starts_target_replicas():
    assert plan([], "v1", target=3, room=None) == Plan(start=3, stop=())


def test_starts_only_what_fits():
    assert plan([], "v1", target=3, room=1) == Plan(start=1, stop=())


def test_scale_down_stops_starting_replicas_before_running_ones():
    replicas = views(("a", "v1", RUNNING), ("b", "v1", RUNNING), ("c", "v1", STARTING))
    assert plan(replicas, "v1", target=1, room=None) == Plan(start=0, stop=("c", "b"))


def test_new_version_surges_before_retiring_old_replicas():
    old = views(("a", "v1", RUNNING), ("b", "v1", RUNNING))
    assert plan(old, "v2", target=2, room=None) == Plan(start=2, stop=())
    starting = old + views(("c", "v2", STARTING), ("d", "v2", STARTING))
    assert plan(starting, "v2", target=2, room=None) == Plan(start=0, stop=())
    one_up = old + views(("c", "v2", RUNNING), ("d", "v2", STARTING))
    assert plan(one_up, "v2", target=2, room=None) == Plan(start=0, stop=("a",))


def test_without_room_an_old_replica_makes_way():
    old = views(("a", "v1", RUNNING), ("b", "v1", RUNNING))
    assert plan(old, "v2", target=2, room=0) == Plan(start=0, stop=("a",))
    stopping = views(("a", "v1", STOPPING), ("b", "v1", RUNNING))
    assert plan(stopping, "v2", target=2, room=1) == Plan(start=1, stop=())


def test_stopping_replicas_are_left_alone():
    replicas = views(("a", "v1", STOPPING), ("b", "v1", RUNNING))
    assert plan(replicas, "v1", target=1, room=None) == Plan(start=0, stop=())


def test_room_counts_the_scarcest_resource():
    assert room_for({"CPU": 3.0, "GPU": 1.0}, {"CPU": 1.0, "GPU": 1.0}) == 1
    assert room_for({"CPU": 0.5}, {"CPU": 1.0, "GPU": 0.0}) == 0
    assert room_for({"CPU": 3.0}, {"CPU": 0.0}) is None
