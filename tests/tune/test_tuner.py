"""Tuner end to end: trials as real actors, results persisted, schedulers deciding."""

from __future__ import annotations

import json
import os
import tempfile

import pytest
from ember.train import FailureConfig
from tests_support import wait_for

import ember
from ember import tune

pytestmark = pytest.mark.usefixtures("session")


def _run_config(tmp_path, name="exp", **kwargs):
    return tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0, **kwargs)


def quadratic(config):
    for step in range(config.get("steps", 3)):
        tune.report({"loss": (config["x"] - 3) ** 2 + 1.0 / (step + 1), "step": step})


def test_grid_times_samples_with_best_result_and_dataframe(tmp_path):
    grid = tune.Tuner(
        quadratic,
        param_space={"x": tune.grid_search([1, 3, 5]), "steps": 3, "nested": {"y": tune.choice([7])}},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=2),
        run_config=_run_config(tmp_path)).fit()
    assert len(grid) == 6 and not grid.errors
    best = grid.get_best_result()
    assert best.config["x"] == 3 and best.metrics["training_iteration"] == 3
    assert [r.metrics["step"] for r in grid] == [2] * 6
    frame = grid.get_dataframe()
    assert sorted(frame["config/x"]) == [1, 1, 3, 3, 5, 5]
    assert set(frame["config/nested/y"]) == {7}
    assert grid.get_best_result(metric="loss", mode="max").config["x"] in (1, 5)
    lines = (tmp_path / "exp" / os.path.basename(best.path) / "result.json").read_text().splitlines()
    assert [json.loads(line)["training_iteration"] for line in lines] == [1, 2, 3]
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def flaky(config):
    checkpoint = tune.get_checkpoint()
    start = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "i")) as f:
            start = int(f.read()) + 1
    for i in range(start, 4):
        if config["x"] == "bad":
            raise ValueError("this config always fails")
        if config["x"] == "crash_once" and i == 2 and not os.path.exists(config["mark"]):
            open(config["mark"], "w").close()
            os._exit(1)
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "i"), "w") as out:
            out.write(str(i))
        tune.report({"i": i, "started": start}, checkpoint=tune.Checkpoint.from_directory(folder))


def test_failing_trial_is_errored_others_finish_and_crashes_retry_from_checkpoint(tmp_path):
    grid = tune.Tuner(
        flaky, param_space={"x": tune.grid_search(["good", "bad", "crash_once"]),
                            "mark": str(tmp_path / "crashed")},
        run_config=_run_config(tmp_path, failure_config=FailureConfig(max_failures=1))).fit()
    by_x = {r.config["x"]: r for r in grid}
    assert by_x["good"].error is None and by_x["good"].metrics["i"] == 3
    assert "this config always fails" in str(by_x["bad"].error)
    assert isinstance(by_x["bad"].error, ValueError)  # the user's type, with its traceback
    assert len(grid.errors) == 1
    crashed = by_x["crash_once"]
    assert crashed.error is None and [m["i"] for m in crashed.metrics_history] == [0, 1, 2, 3]
    assert crashed.metrics["started"] == 2  # resumed from the checkpoint of step 1
    assert crashed.checkpoint.path.startswith(crashed.path)


def long_curve(config):
    for step in range(1, 100):
        tune.report({"score": config["quality"] * step})


def test_asha_stops_poor_trials_early_and_stop_criteria_end_trials(tmp_path):
    grid = tune.Tuner(
        long_curve, param_space={"quality": tune.grid_search([8, 7, 6, 5, 4, 3, 2, 1])},
        tune_config=tune.TuneConfig(
            metric="score", mode="max", max_concurrent_trials=2,
            scheduler=tune.ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3)),
        run_config=_run_config(tmp_path)).fit()
    iterations = {r.config["quality"]: r.metrics["training_iteration"] for r in grid}
    assert max(iterations.values()) == 9  # max_t
    assert iterations[1] < 9  # worse than those before it at a rung: cut there
    assert iterations[8] == 9

    grid = tune.Tuner(long_curve, param_space={"quality": 1},
                      run_config=_run_config(tmp_path, name="stopped",
                                             stop={"training_iteration": 4})).fit()
    assert grid[0].metrics["training_iteration"] == 4


def forever(config):
    while True:
        tune.report({"alive": 1})


def test_time_budget_ends_the_experiment(tmp_path):
    grid = tune.Tuner(forever, tune_config=tune.TuneConfig(num_samples=2, time_budget_s=1.5),
                      run_config=_run_config(tmp_path)).fit()
    assert len(grid) == 2 and all(r.error is None for r in grid)


def test_unlimited_samples_run_until_the_time_budget(tmp_path):
    grid = tune.Tuner(quadratic, param_space={"x": tune.uniform(0, 6), "steps": 1},
                      tune_config=tune.TuneConfig(num_samples=-1, time_budget_s=2.0),
                      run_config=_run_config(tmp_path)).fit()
    assert len(grid) > 2 and not grid.errors  # trials kept coming until the budget ran out
    assert len({r.config["x"] for r in grid}) == len(grid)


def test_resources_bound_concurrency(tmp_path):
    def record(config):
        import time

        tune.report({"start": time.time()})
        time.sleep(0.3)
        tune.report({"end": time.time()})

    grid = tune.Tuner(tune.with_resources(record, {"cpu": 2}),
                      param_space={"i": tune.grid_search([0, 1, 2])},
                      run_config=_run_config(tmp_path)).fit()
    spans = sorted((r.metrics_history[0]["start"], r.metrics_history[1]["end"]) for r in grid)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2))  # one at a time


class Counter:
    """A class trainable (the protocol an rl Algorithm follows)."""

    def __init__(self, config):
        self.value = config["start"]

    def train(self):
        self.value += 1
        return {"value": self.value}

    def save(self, folder):
        with open(os.path.join(folder, "value"), "w") as out:
            out.write(str(self.value))

    def restore(self, folder):
        with open(os.path.join(folder, "value")) as source:
            self.value = int(source.read())

    def stop(self):
        pass


def test_class_trainable_checkpoints_at_end(tmp_path):
    grid = tune.Tuner(Counter, param_space={"start": tune.grid_search([0, 10])},
                      run_config=_run_config(tmp_path, stop={"training_iteration": 3})).fit()
    assert sorted(r.metrics["value"] for r in grid) == [3, 13]
    with grid[0].checkpoint.as_directory() as folder, open(os.path.join(folder, "value")) as f:
        assert int(f.read()) == grid[0].metrics["value"]


def test_optuna_search_runs_num_samples(tmp_path):
    pytest.importorskip("optuna")
    grid = tune.Tuner(
        quadratic, param_space={"x": tune.uniform(0, 6), "steps": 1},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=6,
                                    search_alg=tune.OptunaSearch(seed=0)),
        run_config=_run_config(tmp_path)).fit()
    assert len(grid) == 6 and all(0 <= r.config["x"] <= 6 for r in grid)


@pytest.mark.parametrize("make, message", [
    (lambda: tune.Tuner(5), "trainable"),
    (lambda: tune.Tuner(quadratic, param_space=[1]), "param_space"),
    (lambda: tune.TuneConfig(mode="up"), "mode"),
    (lambda: tune.TuneConfig(metric="loss"), "metric and mode"),
    (lambda: tune.TuneConfig(num_samples=0), "num_samples"),
    (lambda: tune.with_resources(quadratic, 2), "resources"),
    (lambda: tune.Tuner.restore("/no/such/experiment"), "no experiment"),
])
def test_bad_input_names_the_argument(make, message):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert message in str(info.value)


def where_am_i(config):
    tune.report({"trial_dir": tune.get_context().get_trial_dir(), "cwd": os.getcwd()})


def test_trials_get_their_dir_without_changing_the_working_directory(tmp_path):
    grid = tune.Tuner(where_am_i, run_config=_run_config(tmp_path)).fit()
    assert grid[0].metrics["trial_dir"] == grid[0].path
    assert grid[0].path.startswith(str(tmp_path / "exp"))
    assert grid[0].metrics["cwd"] == os.getcwd()


def checkpointing_curve(config):
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "s")) as f:
            step = int(f.read())
    while True:
        step += 1
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "s"), "w") as out:
            out.write(str(step))
        tune.report({"score": config["q"] * step, "step": step},
                    checkpoint=tune.Checkpoint.from_directory(folder))


@pytest.mark.parametrize("scheduler", [
    lambda: tune.HyperBandScheduler(max_t=9, reduction_factor=3),
    lambda: tune.MedianStoppingRule(time_attr="training_iteration", grace_period=2,
                                    min_samples_required=2),
])
def test_pausing_and_stopping_schedulers_run_to_the_end(tmp_path, scheduler):
    grid = tune.Tuner(
        checkpointing_curve, param_space={"q": tune.grid_search([1, 2, 3, 4])},
        tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler()),
        run_config=_run_config(tmp_path, stop={"training_iteration": 9})).fit()
    assert len(grid) == 4 and not grid.errors
    for result in grid:  # a paused trial resumed from its checkpoint: steps never repeat
        steps = [m["step"] for m in result.metrics_history]
        assert steps == list(range(1, len(steps) + 1))
    assert max(r.metrics["training_iteration"] for r in grid) == 9


@pytest.mark.parametrize(("make", "hint"), [
    (lambda: tune.TuneConfig(num_sample=3), "'num_sample' (did you mean 'num_samples'?)"),
    (lambda: tune.TuneConfig(metric="loss", mode="minimum"), "(did you mean 'min'?)"),
    (lambda: tune.TuneConfig(time_budget_s=0), "time_budget_s=...) (seconds) must be a number > 0"),
])
def test_a_bad_tune_config_names_the_fix(make, hint):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert hint in str(info.value)
