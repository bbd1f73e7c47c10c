"""rl Algorithms as trials: by name, by config object, with search spaces."""

from __future__ import annotations

import pytest

from ember import tune

pytestmark = pytest.mark.usefixtures("session")
rl = pytest.importorskip("ember.rl")
pytest.importorskip("gymnasium")


def _small(config):
    config = (config.environment("CartPole-v1")
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2).debugging(seed=0))
    if isinstance(config, rl.PPOConfig):
        return config.training(train_batch_size=200, minibatch_size=50, num_epochs=1)
    return config.training(train_batch_size=32)


def test_ppo_by_name_with_a_search_space(tmp_path):
    space = _small(rl.PPOConfig()).to_dict()
    space["lr"] = tune.grid_search([1e-3, 1e-4])
    grid = tune.Tuner("PPO", param_space=space,
                      tune_config=tune.TuneConfig(metric="episode_return_mean", mode="max"),
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="ppo",
                                                verbose=0, stop={"training_iteration": 2})).fit()
    assert len(grid) == 2 and not grid.errors
    assert sorted(r.config["lr"] for r in grid) == [1e-4, 1e-3]
    assert all(r.metrics["training_iteration"] == 2 for r in grid)
    assert all(r.checkpoint is not None for r in grid)  # saved when stopped
    assert grid.get_best_result().metrics["num_env_steps_sampled"] >= 400


def test_config_object_is_a_trainable(tmp_path):
    grid = tune.Tuner(_small(rl.DQNConfig()), param_space={"gamma": tune.choice([0.9])},
                      run_config=tune.RunConfig(storage_path=str(tmp_path), name="dqn",
                                                verbose=0, stop={"training_iteration": 1})).fit()
    assert not grid.errors and grid[0].metrics["training_iteration"] == 1


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match="PPO"):
        tune.Tuner("NoSuchAlgo")
