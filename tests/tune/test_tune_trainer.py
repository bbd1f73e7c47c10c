"""A TorchTrainer as a trial: its workers count against the tuner's resources, so two
2-worker trials on 2 CPUs run one after the other instead of deadlocking."""

from __future__ import annotations

import os
import tempfile

import pytest

from ember import data, train, tune

pytestmark = pytest.mark.usefixtures("session")
torch = pytest.importorskip("torch")


def loop(config):
    import torch.distributed as dist

    context = train.get_context()
    rows = sum(len(b["id"]) for b in train.get_dataset_shard("train").iter_batches(batch_size=8))
    total = torch.tensor([float(rows)])
    dist.all_reduce(total)
    for epoch in range(2):
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "epoch"), "w") as out:
            out.write(str(epoch))
        train.report({"score": config["lr"] * (epoch + 1), "rows": total.item(),
                      "world": context.get_world_size(), "trial_dir": context.get_trial_dir()},
                     checkpoint=train.Checkpoint.from_directory(folder))


def test_torch_trainer_trials(tmp_path):
    trainer = train.TorchTrainer(loop, train_loop_config={"lr": 0.0},
                                 scaling_config=train.ScalingConfig(num_workers=2),
                                 datasets={"train": data.range(40)})
    grid = tune.Tuner(
        trainer, param_space={"train_loop_config": {"lr": tune.grid_search([0.1, 0.2])}},
        tune_config=tune.TuneConfig(metric="score", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0)).fit()
    assert len(grid) == 2 and not grid.errors
    best = grid.get_best_result()
    assert best.config["train_loop_config"]["lr"] == 0.2
    assert best.metrics["score"] == pytest.approx(0.4)
    assert best.metrics["world"] == 2 and best.metrics["rows"] == 40
    assert best.metrics["trial_dir"] == best.path
    assert best.metrics["training_iteration"] == 2
    assert best.checkpoint.path == os.path.join(best.path, "checkpoint_000001")


def count_workers(config):
    train.report({"world": train.get_context().get_world_size()})


def test_scaling_config_in_the_param_space_sets_each_trials_workers(tmp_path):
    trainer = train.TorchTrainer(count_workers, scaling_config=train.ScalingConfig(num_workers=1))
    assert trainer.trial_bundles({"scaling_config": {"num_workers": 2}}) == [{"CPU": 1.0}] * 2
    grid = tune.Tuner(
        trainer, param_space={"scaling_config": {"num_workers": tune.grid_search([1, 2])}},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="scale", verbose=0)).fit()
    assert sorted(r.metrics["world"] for r in grid) == [1, 2]
