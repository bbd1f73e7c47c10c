"""OptunaSearch: Ember domains become optuna distributions, ask/tell drive any sampler,
nested spaces work, points come first, failures are told as FAIL."""

from __future__ import annotations

import math

import optuna
import pytest
from ember.tune._optuna_search import OptunaSearch, to_distribution
from ember.tune._search_space import (
    choice,
    grid_search,
    loguniform,
    quniform,
    randint,
    sample_from,
    uniform,
)
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState


@pytest.fixture(autouse=True)
def quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


@pytest.mark.parametrize(
    "domain, expected",
    [
        (uniform(0, 2), FloatDistribution(0, 2)),
        (loguniform(1e-4, 1e-1), FloatDistribution(1e-4, 1e-1, log=True)),
        (quniform(0, 1, 0.25), FloatDistribution(0, 1, step=0.25)),
        (quniform(0, 1, 0.3), FloatDistribution(0, 0.9, step=0.3)),
        (randint(1, 5), IntDistribution(1, 4)),
        (choice(["a", 2, None]), CategoricalDistribution(["a", 2, None])),
        (choice([[1, 2], [3]]), CategoricalDistribution([0, 1])),
    ],
)
def test_domains_convert_to_optuna_distributions(domain, expected):
    assert to_distribution(domain, ("x",)) == expected


def _run(searcher, objective, n):
    configs = []
    for i in range(n):
        config = searcher.suggest(str(i))
        configs.append(config)
        searcher.on_trial_complete(str(i), {"score": objective(config)})
    return configs


def test_nested_space_is_flattened_for_optuna_and_rebuilt_for_the_trial():
    space = {"train_loop_config": {"lr": loguniform(1e-4, 1e-1), "layers": [64, 64]},
             "batch": choice([16, 32]), "const": "x"}
    searcher = OptunaSearch(space, metric="score", mode="max", seed=0)
    config = searcher.suggest("0")
    assert set(searcher._study.trials[0].distributions) == {"train_loop_config/lr", "batch"}
    assert 1e-4 <= config["train_loop_config"]["lr"] <= 1e-1
    assert config["train_loop_config"]["layers"] == [64, 64] and config["const"] == "x"
    assert config["batch"] in (16, 32)


def test_seeded_searches_repeat_and_tpe_learns_the_objective():
    space = {"x": uniform(-10, 10)}

    def objective(config):
        return -((config["x"] - 3) ** 2)

    first = _run(OptunaSearch(space, metric="score", mode="max", seed=1), objective, 40)
    again = _run(OptunaSearch(space, metric="score", mode="max", seed=1), objective, 40)
    assert first == again
    best = max(first, key=objective)
    assert abs(best["x"] - 3) < 1.0


def test_min_mode_minimizes():
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="score", mode="min", seed=0)
    _run(searcher, lambda c: c["x"], 3)
    assert searcher._study.direction == optuna.study.StudyDirection.MINIMIZE


def test_any_sampler_is_driven_through_ask_and_tell():
    sampler = optuna.samplers.RandomSampler(seed=0)
    searcher = OptunaSearch({"n": randint(0, 3)}, metric="score", mode="max", sampler=sampler)
    configs = _run(searcher, lambda c: c["n"], 20)
    assert {c["n"] for c in configs} == {0, 1, 2}
    assert searcher._study.sampler is sampler
    assert all(t.state == TrialState.COMPLETE for t in searcher._study.trials)


def test_points_to_evaluate_are_enqueued_first():
    space = {"t": {"lr": uniform(0, 1)}, "opt": choice([["sgd"], ["adam"]])}
    points = [{"t": {"lr": 0.5}, "opt": ["adam"]}, {"t": {"lr": 0.25}, "opt": ["sgd"]}]
    searcher = OptunaSearch(space, metric="score", mode="max", points_to_evaluate=points)
    first, second = searcher.suggest("a"), searcher.suggest("b")
    assert first == {"t": {"lr": 0.5}, "opt": ["adam"]}
    assert second == {"t": {"lr": 0.25}, "opt": ["sgd"]}


def test_space_metric_and_mode_may_come_from_the_tuner():
    searcher = OptunaSearch(seed=0)
    assert searcher.set_search_properties("score", "max", {"a": {"b": uniform(0, 1)}})
    assert 0 <= searcher.suggest("0")["a"]["b"] <= 1


def test_a_space_in_both_places_is_refused():
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="m", mode="max")
    assert searcher.set_search_properties(None, None, {"y": uniform(0, 1)}) is False


def test_grid_search_in_the_space_is_a_clear_error():
    with pytest.raises(ValueError, match=r"grid_search \(at 'opt/name'\).*choice"):
        OptunaSearch({"opt": {"name": grid_search(["a", "b"])}})


def test_sample_from_is_resolved_after_optunas_values():
    space = {"x": randint(1, 4), "double": sample_from(lambda spec: spec.config.x * 2)}
    config = OptunaSearch(space, metric="m", mode="max", seed=0).suggest("0")
    assert config["double"] == 2 * config["x"]


@pytest.mark.parametrize(
    "result, error",
    [
        (None, True),
        ({"score": 1.0}, True),
        ({"score": math.nan}, False),
        ({"other": 1.0}, False),
    ],
)
def test_errors_nan_and_missing_metrics_are_told_as_fail(result, error):
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="score", mode="max", seed=0)
    searcher.suggest("0")
    searcher.on_trial_complete("0", result, error=error)
    assert searcher._study.trials[0].state == TrialState.FAIL


def test_intermediate_results_are_reported_once_per_step():
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="score", mode="max", seed=0)
    searcher.suggest("0")
    for step, value in [(1, 0.1), (1, 0.2), (2, 0.3), (3, math.nan)]:
        searcher.on_trial_result("0", {"score": value, "training_iteration": step})
    searcher.on_trial_complete("0", {"score": 0.3})
    trial = searcher._study.trials[0]
    assert trial.intermediate_values == {1: 0.1, 2: 0.3} and trial.value == 0.3


def test_save_and_restore_keep_the_study_and_running_trials(tmp_path):
    space = {"x": uniform(0, 1), "y": sample_from(lambda spec: spec.config.x + 1)}
    searcher = OptunaSearch(space, metric="score", mode="max", seed=0)
    _run(searcher, lambda c: c["x"], 3)
    searcher.suggest("running")
    searcher.save(str(tmp_path / "optuna.pkl"))
    restored = OptunaSearch()
    restored.restore(str(tmp_path / "optuna.pkl"))
    restored.on_trial_complete("running", {"score": 0.5})
    config = restored.suggest("next")
    assert config["y"] == config["x"] + 1
    assert [t.state for t in restored._study.trials][:4] == [TrialState.COMPLETE] * 4


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"mode": "maximize"}, ValueError, "mode must be"),
        ({"sampler": "tpe"}, TypeError, "pass an optuna sampler instance"),
        ({"sampler": optuna.samplers.RandomSampler(), "seed": 1}, ValueError,
         "seed your sampler"),
        ({"points_to_evaluate": {"x": 1}}, TypeError, "points_to_evaluate"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        OptunaSearch({"x": uniform(0, 1)}, **kwargs)


@pytest.mark.parametrize(
    "searcher, words",
    [
        (OptunaSearch(metric="m", mode="max"), "OptunaSearch\\(space=...\\)"),
        (OptunaSearch({"x": uniform(0, 1)}), "TuneConfig\\(metric=, mode=\\)"),
    ],
)
def test_missing_space_or_metric_says_where_to_give_it(searcher, words):
    with pytest.raises(ValueError, match=words):
        searcher.suggest("0")
