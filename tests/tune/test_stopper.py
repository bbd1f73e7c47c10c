"""Stoppers: RunConfig(stop=...) values become Stoppers; the time budget uses a fake clock."""

from __future__ import annotations

import datetime
import pickle

import pytest
from ember.tune._stopper import (
    CombinedStopper,
    Stopper,
    TimeoutStopper,
    coerce_stopper,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_none_never_stops():
    stopper = coerce_stopper(None)
    assert stopper("t", {"training_iteration": 10**6}) is False
    assert stopper.stop_all() is False


def test_dict_criteria_stop_when_any_value_is_reached():
    stopper = coerce_stopper({"training_iteration": 5, "acc": 0.9})
    assert stopper("t", {"training_iteration": 4, "acc": 0.5}) is False
    assert stopper("t", {"training_iteration": 5, "acc": 0.5}) is True
    assert stopper("t", {"training_iteration": 1, "acc": 0.95}) is True
    assert stopper.stop_all() is False


def test_dict_criterion_missing_from_the_result_names_the_key():
    with pytest.raises(ValueError, match="'acc' is not in the trial's result"):
        coerce_stopper({"acc": 0.9})("t", {"loss": 1.0})


def test_function_gets_trial_id_and_result():
    seen = []

    def stop(trial_id, result):
        seen.append(trial_id)
        return result["loss"] < 0.1

    stopper = coerce_stopper(stop)
    assert stopper("a", {"loss": 0.5}) is False and stopper("b", {"loss": 0.05}) is True
    assert seen == ["a", "b"]


def test_stopper_instance_passes_through():
    class Never(Stopper):
        def __call__(self, trial_id, result):
            return False

    never = Never()
    assert coerce_stopper(never) is never


@pytest.mark.parametrize(
    "stop, words",
    [
        (5, "RunConfig(stop=5)"),
        ("training_iteration", "expected a dict"),
        (Stopper, "pass an instance"),
        (lambda result: True, "fn(trial_id, result)"),
        ({"acc": "high"}, "must map a result key to a number"),
    ],
)
def test_bad_stop_values_raise_type_error_naming_run_config(stop, words):
    with pytest.raises(TypeError) as info:
        coerce_stopper(stop)
    assert words in str(info.value) and "RunConfig(stop=" in str(info.value)


def test_timeout_stopper_ends_the_experiment_when_the_budget_is_spent():
    clock = FakeClock()
    stopper = TimeoutStopper(10, clock=clock)
    assert stopper("t", {}) is False and stopper.stop_all() is False
    clock.now += 9.9
    assert stopper.stop_all() is False
    clock.now += 0.1
    assert stopper.stop_all() is True


def test_timeout_accepts_timedelta_and_rejects_non_positive():
    assert TimeoutStopper(datetime.timedelta(minutes=1), clock=FakeClock()).timeout_s == 60
    with pytest.raises(ValueError, match="time_budget_s=0"):
        TimeoutStopper(0)


def test_pickled_timeout_stopper_keeps_its_remaining_budget():
    clock = FakeClock()
    stopper = TimeoutStopper(10, clock=clock)
    clock.now += 4
    restored = pickle.loads(pickle.dumps(stopper))
    assert restored.timeout_s == 6
    later = restored._clock  # the unpickled copy of the fake clock
    later.now += 5
    assert restored.stop_all() is False
    later.now += 1
    assert restored.stop_all() is True


def test_combined_stopper_asks_every_stopper():
    clock = FakeClock()
    calls = []

    def record(trial_id, result):
        calls.append(trial_id)
        return False

    combined = CombinedStopper(coerce_stopper({"it": 3}), coerce_stopper(record),
                               TimeoutStopper(5, clock=clock))
    assert combined("a", {"it": 3}) is True and calls == ["a"]
    assert combined("b", {"it": 1}) is False
    assert combined.stop_all() is False
    clock.now += 5
    assert combined.stop_all() is True
    with pytest.raises(TypeError, match="must be a Stopper"):
        CombinedStopper({"it": 3})
