"""PBT end to end: a poor trial takes a good trial's checkpoint and a perturbed config."""

from __future__ import annotations

import os
import tempfile
import time

import pytest

from ember import tune

pytestmark = pytest.mark.usefixtures("session")


def climb(config):
    value = 0.0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "v")) as f:
            value = float(f.read())
    for _ in range(12):
        time.sleep(0.1)  # both trials must be running side by side for PBT to compare them
        value += config["rate"]
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "v"), "w") as out:
            out.write(str(value))
        tune.report({"value": value, "rate": config["rate"]},
                    checkpoint=tune.Checkpoint.from_directory(folder))


def test_pbt_exploits_the_better_trial(tmp_path):
    pbt = tune.PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=2,
        hyperparam_mutations={"rate": [0.1, 1.0, 10.0]}, quantile_fraction=0.5, seed=0)
    grid = tune.Tuner(
        climb, param_space={"rate": tune.grid_search([0.1, 10.0])},
        tune_config=tune.TuneConfig(metric="value", mode="max", scheduler=pbt),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="pbt", verbose=0,
                                  stop={"training_iteration": 8})).fit()
    poor = next(r for r in grid if r.metrics_history[0]["rate"] == 0.1)
    # after exploiting, the poor trial continues from the good trial's much larger value
    assert poor.metrics["value"] > 10 * 0.1 * 8
    assert poor.config["rate"] != 0.1 or poor.metrics["rate"] != 0.1
