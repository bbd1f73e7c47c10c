"""Algorithm: checkpoints, evaluation, acting, the dict form tune builds it from."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from ember.rl import Algorithm, DQNConfig, PPOConfig


def _ppo() -> PPOConfig:
    return (PPOConfig().environment("CartPole-v1")
            .env_runners(num_envs_per_env_runner=4)
            .training(lr=1e-3, train_batch_size=512, minibatch_size=128, num_epochs=2)
            .evaluation(evaluation_duration=3)
            .debugging(seed=0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):  # type: ignore[no-untyped-def]
    algo = _ppo().build()
    results = [algo.train() for _ in range(2)]
    path = algo.save(str(tmp_path_factory.mktemp("ckpt") / "ppo"))
    yield algo, results, path
    algo.stop()


def test_train_returns_the_flat_metrics_design_names(trained) -> None:
    _, results, _ = trained
    result = results[-1]
    for key in ("episode_return_mean", "episodes_this_iter", "num_env_steps_sampled",
                "training_iteration", "time_this_iter_s", "policy_loss", "vf_loss", "entropy",
                "kl", "sample_time_s", "learn_time_s"):
        assert key in result, key
    assert all(not isinstance(value, dict) for value in result.values())
    assert result["training_iteration"] == 2 and result["num_env_steps_sampled"] == 1024


def test_save_returns_a_directory_path_with_dot_path(trained) -> None:
    _, _, path = trained
    assert os.path.isdir(path) and path.path == str(path) == path.checkpoint.path
    assert sorted(os.listdir(path)) == ["algorithm_state.pkl", "policy_state.pkl",
                                        "rl_checkpoint.json"]


def test_from_checkpoint_restores_weights_counters_and_greedy_actions(trained) -> None:
    algo, _, path = trained
    restored = Algorithm.from_checkpoint(path)
    try:
        observations = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
        assert [restored.compute_single_action(o) for o in observations] == \
            [algo.compute_single_action(o) for o in observations]
        mine, theirs = algo.get_policy_state()["weights"], restored.get_policy_state()["weights"]
        assert mine.keys() == theirs.keys()
        assert all(np.array_equal(mine[k], theirs[k]) for k in mine)
        result = restored.train()
        assert result["training_iteration"] == 3 and result["num_env_steps_sampled"] == 1536
    finally:
        restored.stop()


def test_save_to_a_uri_goes_through_pyarrow_fs(trained, tmp_path, monkeypatch) -> None:
    algo, _, _ = trained
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "remote" / "ppo"
    path = algo.save(f"file://{target}")
    assert path == f"file://{target}"            # the location as given, not a local folder
    assert sorted(os.listdir(target)) == ["algorithm_state.pkl", "policy_state.pkl",
                                          "rl_checkpoint.json"]
    assert not (tmp_path / "file:").exists()     # never a folder named after the scheme
    policy = Algorithm.policy_from_checkpoint(path)
    observation = np.zeros(4, dtype=np.float32)
    assert policy.compute_single_action(observation) == algo.compute_single_action(observation)


def test_save_to_an_unknown_scheme_names_what_works(trained, tmp_path, monkeypatch) -> None:
    algo, _, _ = trained
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"nosuch://bucket/ppo.*pyarrow\.fs"):
        algo.save("nosuch://bucket/ppo")
    assert os.listdir(tmp_path) == []


def test_restore_loads_a_checkpoint_into_a_running_algorithm(trained) -> None:
    _, _, path = trained
    fresh = _ppo().build()
    try:
        fresh.restore(path)
        assert fresh.iteration == 2 and fresh.num_env_steps_sampled == 1024
        with pytest.raises(ValueError, match="PPO checkpoint"):
            dqn = DQNConfig().environment("CartPole-v1").build()
            try:
                dqn.restore(path)
            finally:
                dqn.stop()
    finally:
        fresh.stop()


def test_not_a_checkpoint_raises_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not an ember.rl checkpoint"):
        Algorithm.from_checkpoint(str(tmp_path))


def test_policy_from_checkpoint_acts_like_the_algorithm_without_envs(trained) -> None:
    algo, _, path = trained
    policy = Algorithm.policy_from_checkpoint(path)
    obs = np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32)
    action = policy.compute_single_action(obs)
    assert type(action) is int and action == algo.compute_single_action(obs)


def test_compute_single_action_is_a_plain_int_and_checks_the_shape(trained) -> None:
    algo, _, _ = trained
    assert type(algo.compute_single_action(np.zeros(4))) is int
    assert algo.compute_single_action([0.0, 0.0, 0.0, 0.0], explore=True) in (0, 1)
    with pytest.raises(ValueError, match="observation"):
        algo.compute_single_action(np.zeros(3))


def test_evaluate_plays_the_configured_number_of_greedy_episodes(trained) -> None:
    algo, _, _ = trained
    result = algo.evaluate()
    assert result["episodes"] == 3 and math.isfinite(result["episode_return_mean"])


def test_evaluation_interval_adds_evaluation_metrics_to_train() -> None:
    algo = _ppo().evaluation(evaluation_interval=1).build()
    try:
        assert algo.train()["evaluation/episodes"] == 3
    finally:
        algo.stop()


def test_algorithm_builds_from_the_dict_tune_passes() -> None:
    settings = _ppo().to_dict()
    settings["lr"] = 5e-4  # as a sampled search-space value would be
    algo = Algorithm(settings)
    try:
        assert isinstance(algo.config, PPOConfig) and algo.config.lr == 5e-4
        assert algo.train()["training_iteration"] == 1
    finally:
        algo.stop()
    settings.pop("algo")
    named = Algorithm(settings, algo="PPO")
    named.stop()


def test_build_copies_the_config(trained) -> None:
    config = _ppo()
    algo = config.build()
    try:
        config.training(lr=0.5)
        assert algo.config.lr == 1e-3
    finally:
        algo.stop()


def test_same_seed_gives_the_same_training(trained) -> None:
    _, results, _ = trained
    again = _ppo().build()
    try:
        repeat = [again.train() for _ in range(2)]
        assert repeat[-1]["episode_return_mean"] == results[-1]["episode_return_mean"]
        assert repeat[-1]["policy_loss"] == pytest.approx(results[-1]["policy_loss"])
    finally:
        again.stop()


def test_dqn_checkpoint_round_trip(tmp_path) -> None:
    config = (DQNConfig().environment("CartPole-v1")
              .training(num_steps_sampled_before_learning_starts=100)
              .reporting(min_sample_timesteps_per_iteration=200).debugging(seed=1))
    with config.build() as algo:
        algo.train()
        path = algo.save(tmp_path / "dqn")
        expected = algo.compute_single_action(np.zeros(4))
    with Algorithm.from_checkpoint(path) as restored:
        assert restored.compute_single_action(np.zeros(4)) == expected
        assert restored.learner.env_steps == 200
