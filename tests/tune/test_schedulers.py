"""Schedulers, one section each, on hand-computed cases. Trials are plain ``Trial``
records; the tests play the tuner (set statuses, call the hooks in order)."""

from __future__ import annotations

import random

import pytest
from ember.train import Checkpoint
from ember.tune._schedulers import (
    CONTINUE,
    PAUSE,
    STOP,
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialScheduler,
)
from ember.tune._schedulers._asha import quantile
from ember.tune._schedulers._hyperband import bracket_sizes
from ember.tune._schedulers._pbt import explore, fill_config
from ember.tune._search_space import uniform
from ember.tune._trial import PAUSED, PENDING, RUNNING, TERMINATED, Trial


def _trials(scheduler, n, status=RUNNING, config=None):
    trials = []
    for i in range(n):
        trial = Trial(f"t{i}", dict(config or {}))
        trials.append(trial)
        scheduler.on_trial_add(trials, trial)
        trial.status = status
    return trials


def _report(scheduler, trials, trial, it, score, metric="m", time_attr="training_iteration"):
    result = {time_attr: it, metric: score}
    trial.last_result = result
    decision = scheduler.on_trial_result(trials, trial, result)
    if decision == PAUSE:
        trial.status = PAUSED
    elif decision == STOP:
        trial.status = TERMINATED
    return decision


# --- every scheduler: the shared protocol --------------------------------------------

ALL = [
    lambda: FIFOScheduler(),
    lambda: ASHAScheduler(metric="m", mode="max"),
    lambda: HyperBandScheduler(metric="m", mode="max"),
    lambda: MedianStoppingRule(metric="m", mode="max"),
    lambda: PopulationBasedTraining(metric="m", mode="max",
                                    hyperparam_mutations={"lr": [0.1, 0.2]}),
]


@pytest.mark.parametrize("make", ALL, ids=lambda f: type(f()).__name__)
def test_every_scheduler_follows_the_protocol(make):
    scheduler = make()
    assert isinstance(scheduler, TrialScheduler)
    assert scheduler.set_search_properties("m", "max") is True
    trials = _trials(scheduler, 2, status=PENDING, config={"lr": 0.1})
    assert scheduler.choose_trial_to_run(trials) is trials[0]
    trials[0].status = RUNNING
    assert scheduler.on_trial_result(trials, trials[0], {"training_iteration": 1,
                                                         "time_total_s": 1.0, "m": 1.0}) in (
        CONTINUE, PAUSE, STOP)
    scheduler.on_trial_complete(trials, trials[0], trials[0].last_result or None)
    trials[0].status = TERMINATED
    scheduler.on_trial_remove(trials, trials[1])
    assert scheduler.pop_trials_to_stop() == []
    assert isinstance(scheduler.debug_string(), str)


@pytest.mark.parametrize("make", ALL[1:], ids=lambda f: type(f()).__name__)
def test_metric_and_mode_may_come_from_tune_config(make):
    scheduler = type(make())(**({"hyperparam_mutations": {"lr": [1, 2]}}
                                if isinstance(make(), PopulationBasedTraining) else {}))
    assert scheduler.set_search_properties("loss", "min") is True
    assert (scheduler.metric, scheduler.mode) == ("loss", "min")


@pytest.mark.parametrize("make", ALL[1:], ids=lambda f: type(f()).__name__)
def test_missing_metric_and_mode_name_both_settings(make):
    name = type(make()).__name__
    scheduler = type(make())(**({"hyperparam_mutations": {"lr": [1, 2]}}
                                if name == "PopulationBasedTraining" else {}))
    with pytest.raises(ValueError, match=rf"{name}\(metric=..., mode=...\) or TuneConfig"):
        scheduler.set_search_properties(None, None)


def test_conflicting_metric_is_refused_and_bad_mode_named():
    assert ASHAScheduler(metric="a", mode="max").set_search_properties("b", "max") is False
    with pytest.raises(ValueError, match=r'ASHAScheduler\(mode=\'maximize\'\): mode must be'):
        ASHAScheduler(mode="maximize")


def test_base_chooses_pending_before_paused():
    scheduler = FIFOScheduler()
    trials = [Trial("a", {}, status=PAUSED), Trial("b", {}, status=RUNNING),
              Trial("c", {}, status=PENDING)]
    assert scheduler.choose_trial_to_run(trials).trial_id == "c"
    trials[2].status = RUNNING
    assert scheduler.choose_trial_to_run(trials).trial_id == "a"
    trials[0].status = TERMINATED
    assert scheduler.choose_trial_to_run(trials) is None


# --- ASHA ---------------------------------------------------------------------------

def test_quantile_interpolates_linearly_like_numpy():
    assert quantile([4, 1, 3, 2], 0.75) == 3.25
    assert quantile([10], 0.5) == 10 and quantile([10, 5], 0.5) == 7.5


def test_asha_rungs_sit_at_grace_period_times_powers_of_reduction_factor():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=100, grace_period=1)
    assert [m for m, _ in scheduler._brackets[0].rungs] == [64, 16, 4, 1]
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=81, reduction_factor=3)
    assert [m for m, _ in scheduler._brackets[0].rungs] == [81, 27, 9, 3, 1]


def test_asha_stops_trials_below_the_rung_cutoff():
    # reduction_factor=2: cutoff = median of the scores recorded earlier at the rung.
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=8, reduction_factor=2)
    t0, t1, t2, t3 = trials = _trials(scheduler, 4)
    assert _report(scheduler, trials, t0, 1, 10) == CONTINUE  # first at the rung
    assert _report(scheduler, trials, t1, 1, 5) == STOP  # 5 < 10
    assert _report(scheduler, trials, t2, 1, 20) == CONTINUE  # 20 >= median(10, 5)
    assert _report(scheduler, trials, t3, 1, 8) == STOP  # 8 < median(10, 5, 20) = 10
    assert _report(scheduler, trials, t0, 2, 1) == CONTINUE  # first at rung 2
    assert _report(scheduler, trials, t2, 2, 0) == STOP  # 0 < 1


def test_asha_min_mode_and_between_rungs():
    scheduler = ASHAScheduler(metric="loss", mode="min", max_t=16, reduction_factor=4)
    t0, t1 = trials = _trials(scheduler, 2)
    assert _report(scheduler, trials, t0, 1, 0.5, metric="loss") == CONTINUE
    assert _report(scheduler, trials, t1, 1, 0.4, metric="loss") == CONTINUE  # lower wins
    assert _report(scheduler, trials, t0, 2, 9.0, metric="loss") == CONTINUE  # no rung at 2
    assert _report(scheduler, trials, t0, 5, 1.0, metric="loss") == CONTINUE  # rung 4
    assert _report(scheduler, trials, t1, 4, 2.0, metric="loss") == STOP


def test_asha_judges_a_trial_at_the_highest_rung_it_reached():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=100, reduction_factor=2)
    t0, t1 = trials = _trials(scheduler, 2)
    _report(scheduler, trials, t0, 4, 10)
    assert _report(scheduler, trials, t1, 5, 9) == STOP  # rung 4, not rungs 1 or 2


def test_asha_stops_at_max_t_unless_told_otherwise():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=3)
    (trial,) = trials = _trials(scheduler, 1)
    assert _report(scheduler, trials, trial, 3, 1.0) == STOP
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=3, stop_last_trials=False)
    (trial,) = trials = _trials(scheduler, 1)
    assert _report(scheduler, trials, trial, 3, 1.0) == CONTINUE
    assert _report(scheduler, trials, trial, 30, 1.0) == CONTINUE


def test_asha_brackets_are_assigned_round_robin_and_shift_the_first_rung():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=8, reduction_factor=2,
                              brackets=2)
    t0, t1, t2, t3 = trials = _trials(scheduler, 4)
    assert [m for m, _ in scheduler._brackets[1].rungs] == [8, 4, 2]
    _report(scheduler, trials, t0, 1, 10)  # bracket 0, rung 1
    assert _report(scheduler, trials, t1, 1, 0) == CONTINUE  # bracket 1: no rung at 1
    assert _report(scheduler, trials, t2, 1, 0) == STOP  # bracket 0 again
    _report(scheduler, trials, t1, 2, 5)
    assert _report(scheduler, trials, t3, 2, 4) == STOP  # bracket 1, rung 2


def test_asha_ignores_results_without_the_metric_and_counts_completed_trials():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=8, reduction_factor=2)
    t0, t1 = trials = _trials(scheduler, 2)
    assert scheduler.on_trial_result(trials, t0, {"training_iteration": 1}) == CONTINUE
    scheduler.on_trial_complete(trials, t0, {"training_iteration": 1, "m": 10})
    assert _report(scheduler, trials, t1, 1, 5) == STOP


def test_asha_treats_nan_as_the_worst_score():
    scheduler = ASHAScheduler(metric="m", mode="max", max_t=8, reduction_factor=2)
    t0, t1 = trials = _trials(scheduler, 2)
    _report(scheduler, trials, t0, 1, -100)
    assert _report(scheduler, trials, t1, 1, float("nan")) == STOP


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"max_t": 0}, "max_t=0"),
        ({"grace_period": 0}, "grace_period=0"),
        ({"reduction_factor": 1}, "reduction_factor=1"),
        ({"grace_period": 10, "max_t": 5}, "grace_period must be <= max_t"),
        ({"brackets": 0}, "brackets=0"),
    ],
)
def test_asha_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError) as info:
        ASHAScheduler(**kwargs)
    assert words in str(info.value)


# --- HyperBand ----------------------------------------------------------------------

def test_hyperband_bracket_sizes_follow_the_paper():
    assert bracket_sizes(81, 3) == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    assert bracket_sizes(9, 3) == [(9, 1), (5, 3), (3, 9)]


def test_hyperband_pauses_until_the_band_is_in_then_keeps_the_top_third():
    scheduler = HyperBandScheduler(metric="m", mode="max", max_t=9, reduction_factor=3)
    trials = _trials(scheduler, 9)  # fills the first band: 9 trials, milestones 1 and 3
    for i, trial in enumerate(trials[:8]):
        assert _report(scheduler, trials, trial, 1, score=i) == PAUSE
        assert scheduler.choose_trial_to_run(trials) is None  # nobody resumes yet
    assert _report(scheduler, trials, trials[8], 1, score=8) == CONTINUE  # best of 9
    assert sorted(t.trial_id for t in scheduler.pop_trials_to_stop()) == [
        f"t{i}" for i in range(6)]
    assert scheduler.pop_trials_to_stop() == []
    for trial in trials[:6]:
        trial.status = TERMINATED  # the tuner ends them
    for _ in range(2):  # the winners resume; the tuner marks each one RUNNING
        chosen = scheduler.choose_trial_to_run(trials)
        assert chosen in (trials[6], trials[7])
        chosen.status = RUNNING
    assert scheduler.choose_trial_to_run(trials) is None
    # Next round: 3 survivors run to t=3, one of them survives.
    assert _report(scheduler, trials, trials[8], 3, score=1) == PAUSE
    assert _report(scheduler, trials, trials[6], 3, score=5) == PAUSE
    assert _report(scheduler, trials, trials[7], 3, score=3) == STOP
    assert scheduler.pop_trials_to_stop() == [trials[8]]
    assert scheduler.choose_trial_to_run(trials) is trials[6]
    trials[6].status = RUNNING
    assert _report(scheduler, trials, trials[6], 4, score=5) == CONTINUE
    assert _report(scheduler, trials, trials[6], 9, score=5) == STOP  # max_t


def test_hyperband_chooses_each_winner_once():
    scheduler = HyperBandScheduler(metric="m", mode="max", max_t=9)
    trials = _trials(scheduler, 9)
    for i, trial in enumerate(trials):
        _report(scheduler, trials, trial, 1, score=i)
    first = scheduler.choose_trial_to_run(trials)
    first.status = RUNNING
    second = scheduler.choose_trial_to_run(trials)
    assert {first.trial_id, second.trial_id} == {"t6", "t7"}


def test_hyperband_fills_the_next_band_when_one_is_full():
    scheduler = HyperBandScheduler(metric="m", mode="max", max_t=9)
    _trials(scheduler, 9 + 5 + 3 + 1)
    assert [(b.capacity, b.milestones) for b in scheduler._bands] == [
        (9, [1, 3]), (5, [3]), (3, []), (9, [1, 3])]
    assert [len(b.trials) for b in scheduler._bands] == [9, 5, 3, 1]


def test_hyperband_decides_when_the_last_waited_for_trial_fails():
    scheduler = HyperBandScheduler(metric="m", mode="max", max_t=9)
    trials = _trials(scheduler, 4)
    for i, trial in enumerate(trials[:3]):
        assert _report(scheduler, trials, trial, 1, score=i) == PAUSE
    trials[3].status = "ERROR"
    scheduler.on_trial_remove(trials, trials[3])
    # 3 reached the milestone: keep max(1, floor(3 / 3)) = 1, the best (t2).
    assert sorted(t.trial_id for t in scheduler.pop_trials_to_stop()) == ["t0", "t1"]
    assert scheduler.choose_trial_to_run(trials) is trials[2]


def test_hyperband_band_closes_at_its_first_halving():
    scheduler = HyperBandScheduler(metric="m", mode="max", max_t=9)
    trials = _trials(scheduler, 2)
    _report(scheduler, trials, trials[0], 1, 1)
    assert _report(scheduler, trials, trials[1], 1, 2) == CONTINUE  # 2 in: keep 1
    late = Trial("late", {})
    scheduler.on_trial_add(trials, late)
    assert late not in scheduler._bands[0].trials


def test_hyperband_min_mode_keeps_the_lowest():
    scheduler = HyperBandScheduler(metric="loss", mode="min", max_t=9)
    trials = _trials(scheduler, 3)
    _report(scheduler, trials, trials[0], 1, 0.1, metric="loss")
    _report(scheduler, trials, trials[1], 1, 0.5, metric="loss")
    assert _report(scheduler, trials, trials[2], 1, 0.9, metric="loss") == STOP
    assert scheduler.pop_trials_to_stop() == [trials[1]]


# --- Median stopping ------------------------------------------------------------------

def _ms_report(scheduler, trials, trial, t, score):
    return _report(scheduler, trials, trial, t, score, time_attr="time_total_s")


def test_median_stopping_stops_a_trial_whose_best_is_below_the_peers_median():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=1,
                                   min_samples_required=2)
    a, b, c = trials = _trials(scheduler, 3)
    for t, (sa, sb) in enumerate([(10, 8), (12, 6)], start=1):
        _ms_report(scheduler, trials, a, t, sa)
        _ms_report(scheduler, trials, b, t, sb)
    # Means over [1, 1]: a 10, b 8 -> median 9. c's best is 8.5: stop.
    assert _ms_report(scheduler, trials, c, 1, 8.5) == STOP


def test_median_stopping_uses_running_means_up_to_the_same_time():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=1,
                                   min_samples_required=2)
    a, b, c = trials = _trials(scheduler, 3)
    for t, (sa, sb) in enumerate([(10, 8), (12, 6)], start=1):
        _ms_report(scheduler, trials, a, t, sa)
        _ms_report(scheduler, trials, b, t, sb)
    _ms_report(scheduler, trials, c, 1, 9.5)  # median at t=1 is 9: continue
    # At t=2: a's mean 11, b's mean 7 -> median 9; c's best (9.5) is still above.
    assert _ms_report(scheduler, trials, c, 2, 1.0) == CONTINUE


def test_median_stopping_waits_for_the_grace_period_and_enough_samples():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=5,
                                   min_samples_required=1)
    a, b = trials = _trials(scheduler, 2)
    _ms_report(scheduler, trials, a, 5, 10)
    assert _ms_report(scheduler, trials, b, 4, 0) == CONTINUE  # inside the grace period
    assert _ms_report(scheduler, trials, b, 5, 0) == STOP


def test_median_stopping_pauses_to_let_waiting_trials_catch_up():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=1,
                                   min_samples_required=2, min_time_slice=2)
    a, b = trials = _trials(scheduler, 2)
    assert _ms_report(scheduler, trials, a, 1, 10) == CONTINUE  # nobody waits
    b.status = PENDING
    a.status = RUNNING
    assert _ms_report(scheduler, trials, a, 3, 10) == PAUSE  # 3 - 0 > min_time_slice
    a.status = RUNNING
    assert _ms_report(scheduler, trials, a, 4, 10) == CONTINUE  # paused at 3 already


def test_median_stopping_min_mode_and_soft_stop():
    scheduler = MedianStoppingRule(metric="loss", mode="min", grace_period=0,
                                   min_samples_required=1, hard_stop=False)
    a, b = trials = _trials(scheduler, 2)
    _report(scheduler, trials, a, 1, 1.0, metric="loss", time_attr="time_total_s")
    assert _report(scheduler, trials, b, 1, 2.0, metric="loss",
                   time_attr="time_total_s") == PAUSE
    b.status = RUNNING  # resumed: a soft-stopped trial runs on
    assert _report(scheduler, trials, b, 2, 3.0, metric="loss",
                   time_attr="time_total_s") == CONTINUE


def test_median_stopping_counts_completed_trials_as_peers():
    scheduler = MedianStoppingRule(metric="m", mode="max", grace_period=0,
                                   min_samples_required=1)
    a, b = trials = _trials(scheduler, 2)
    scheduler.on_trial_complete(trials, a, {"time_total_s": 10.0, "m": 5})
    a.status = TERMINATED
    assert _ms_report(scheduler, trials, b, 10.0, 1) == STOP


@pytest.mark.parametrize(
    "kwargs, words",
    [({"grace_period": -1}, "grace_period=-1"), ({"min_samples_required": 0},
                                                 "min_samples_required=0")],
)
def test_median_stopping_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        MedianStoppingRule(**kwargs)


# --- PBT --------------------------------------------------------------------------------

class ScriptedRng(random.Random):
    """random() and choice() answer from scripts, to pin explore's branches."""

    def __init__(self, randoms, choices):
        super().__init__(0)
        self.randoms, self.choices = list(randoms), list(choices)

    def random(self):
        return self.randoms.pop(0)

    def choice(self, seq):
        return seq[self.choices.pop(0)] if self.choices else seq[0]


def test_explore_perturbs_numbers_shifts_lists_and_recurses_into_nested_keys():
    config = {"lr": 0.1, "units": 10, "act": "relu", "opt": {"mom": 0.5}, "const": "x"}
    mutations = {"lr": uniform(0, 1), "units": [5, 10, 20], "act": ["tanh", "relu"],
                 "opt": {"mom": uniform(0, 1)}}
    # lr: keep (0.9 >= 0.25) and factor index 0 (1.2); units: keep, shift index 1 (+1);
    # act: keep, shift index 0 (-1); mom: keep, factor index 1 (0.8).
    rng = ScriptedRng(randoms=[0.9, 0.9, 0.9, 0.9], choices=[0, 1, 0, 1])
    new = explore(config, mutations, rng, 0.25, (1.2, 0.8))
    assert new == {"lr": pytest.approx(0.12), "units": 20, "act": "tanh",
                   "opt": {"mom": pytest.approx(0.4)}, "const": "x"}
    assert config["opt"] == {"mom": 0.5}  # the original is untouched


def test_explore_resamples_with_resample_probability_and_keeps_ints_ints():
    rng = ScriptedRng(randoms=[0.1, 0.9], choices=[2, 1])
    new = explore({"bs": 32, "n": 3}, {"bs": [16, 32, 64], "n": lambda: 99}, rng, 0.25,
                  (1.2, 0.8))
    assert new["bs"] == 64  # resampled: choice index 2
    assert new["n"] == 2  # perturbed: int(3 * 0.8)


def test_fill_config_adds_missing_mutated_keys():
    config = {"lr": 0.5}
    fill_config(config, {"lr": [0.1], "opt": {"mom": [0.9]}}, random.Random(0))
    assert config == {"lr": 0.5, "opt": {"mom": 0.9}}


def _pbt_population(tmp_path, scheduler, scores):
    trials = _trials(scheduler, len(scores), config={"lr": 0.2, "opt": {"mom": 0.5},
                                                     "const": "x"})
    for trial, score in zip(trials, scores):
        trial.checkpoint = Checkpoint(str(tmp_path / trial.trial_id))
        assert _report(scheduler, trials, trial, 1, score) == CONTINUE  # < interval
    return trials


def test_pbt_bottom_trial_exploits_a_top_trial_and_explores_its_config(tmp_path):
    scheduler = PopulationBasedTraining(
        metric="m", mode="max", perturbation_interval=2, resample_probability=0,
        perturbation_factors=(2.0,), seed=0,
        hyperparam_mutations={"lr": [0.1, 0.2, 0.3], "opt": {"mom": uniform(0, 1)}})
    t0, t1, _t2, t3 = trials = _pbt_population(tmp_path, scheduler, [1, 2, 3, 4])
    t3.config["lr"] = 0.1
    assert _report(scheduler, trials, t3, 2, 4) == CONTINUE  # top: goes on
    assert _report(scheduler, trials, t1, 2, 2) == CONTINUE  # middle
    assert _report(scheduler, trials, t0, 2, 1) == PAUSE  # bottom 25%: exploit t3
    assert t0.restore_from is t3.checkpoint
    assert t0.config["opt"] == {"mom": 1.0} and t0.config["const"] == "x"
    assert t0.config["lr"] in (0.1, 0.2)  # t3's 0.1 or its neighbour
    assert t3.config["opt"] == {"mom": 0.5}  # the donor is untouched
    assert t1.restore_from is None and scheduler.num_perturbations == 1


def test_pbt_skips_exploit_when_the_top_trial_has_no_checkpoint(tmp_path):
    scheduler = PopulationBasedTraining(metric="m", mode="max", perturbation_interval=2,
                                        hyperparam_mutations={"lr": [0.1, 0.2]})
    t0, t1 = trials = _pbt_population(tmp_path, scheduler, [1, 2])
    t1.checkpoint = None
    config = dict(t0.config)
    assert _report(scheduler, trials, t0, 2, 1) == CONTINUE
    assert t0.restore_from is None and t0.config == config


def test_pbt_perturbs_once_per_interval(tmp_path):
    scheduler = PopulationBasedTraining(metric="m", mode="max", perturbation_interval=2,
                                        hyperparam_mutations={"lr": [0.1, 0.2]})
    t0, _t1 = trials = _pbt_population(tmp_path, scheduler, [1, 2])
    assert _report(scheduler, trials, t0, 2, 1) == PAUSE
    t0.status, t0.restore_from = RUNNING, None
    assert _report(scheduler, trials, t0, 3, 0) == CONTINUE  # 3 - 2 < interval
    assert t0.restore_from is None


def test_pbt_pauses_a_good_trial_at_a_boundary_when_others_wait(tmp_path):
    scheduler = PopulationBasedTraining(metric="m", mode="max", perturbation_interval=2,
                                        hyperparam_mutations={"lr": [0.1, 0.2]})
    _t0, t1, t2 = trials = _pbt_population(tmp_path, scheduler, [1, 2, 3])
    t1.status = PENDING
    assert _report(scheduler, trials, t2, 2, 3) == PAUSE  # take turns
    assert t2.restore_from is None


def test_pbt_min_mode_exploits_from_the_lowest(tmp_path):
    scheduler = PopulationBasedTraining(metric="m", mode="min", perturbation_interval=1,
                                        hyperparam_mutations={"lr": [0.1, 0.2]})
    t0, t1 = trials = _trials(scheduler, 2, config={"lr": 0.1})
    for trial in trials:
        trial.checkpoint = Checkpoint(str(tmp_path / trial.trial_id))
    assert _report(scheduler, trials, t0, 1, 0.1) == CONTINUE  # alone: no quantiles
    assert _report(scheduler, trials, t1, 1, 0.9) == PAUSE
    assert t1.restore_from is t0.checkpoint


def test_pbt_fills_mutated_keys_missing_from_a_new_trial():
    scheduler = PopulationBasedTraining(metric="m", mode="max",
                                        hyperparam_mutations={"opt": {"lr": [0.3]}})
    (trial,) = _trials(scheduler, 1)
    assert trial.config == {"opt": {"lr": 0.3}}


def test_pbt_custom_explore_fn_runs_after_the_built_in_explore(tmp_path):
    scheduler = PopulationBasedTraining(
        metric="m", mode="max", perturbation_interval=2,
        custom_explore_fn=lambda config: {**config, "tag": "explored"})
    t0, _t1 = trials = _pbt_population(tmp_path, scheduler, [1, 2])
    _report(scheduler, trials, t0, 2, 1)
    assert t0.config["tag"] == "explored"


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({}, ValueError, "hyperparam_mutations="),
        ({"hyperparam_mutations": {"lr": 3}}, TypeError, "lr=3 must be a list"),
        ({"hyperparam_mutations": {"a": {"b": []}}}, ValueError, "a/b is an empty list"),
        ({"hyperparam_mutations": {"lr": [1]}, "quantile_fraction": 0.6}, ValueError,
         "quantile_fraction=0.6"),
        ({"hyperparam_mutations": {"lr": [1]}, "perturbation_interval": 0}, ValueError,
         "perturbation_interval=0"),
        ({"hyperparam_mutations": {"lr": [1]}, "resample_probability": 2}, ValueError,
         "resample_probability=2"),
    ],
)
def test_pbt_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error) as info:
        PopulationBasedTraining(**kwargs)
    assert words in str(info.value)
