"""DQN's numerics against hand-computed cases; DQN smoke and learning sanity on CartPole."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ember.rl import DQNConfig
from ember.rl._dqn import dqn_targets, epsilon_at, n_step_transitions
from ember.rl._replay import ReplayBuffer

REWARDS = np.array([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32)
NO = np.zeros((4, 1), dtype=bool)


def test_n_step_returns_without_episode_end_stop_at_the_fragment_end() -> None:
    returns, discounts, last, terminated = n_step_transitions(REWARDS, NO, NO, 0.5, 3)
    np.testing.assert_allclose(returns[:, 0], [1 + 1 + 0.75, 2 + 1.5 + 1, 3 + 2, 4])
    np.testing.assert_allclose(discounts[:, 0], [0.125, 0.125, 0.25, 0.5])
    assert last[:, 0].tolist() == [2, 3, 3, 3]
    assert not terminated.any()


def test_n_step_window_stops_at_a_terminated_step() -> None:
    ended = NO.copy()
    ended[1] = True
    returns, discounts, last, terminated = n_step_transitions(REWARDS, ended, NO, 0.5, 3)
    np.testing.assert_allclose(returns[:, 0], [1 + 1, 2, 3 + 2, 4])
    np.testing.assert_allclose(discounts[:, 0], [0.25, 0.5, 0.25, 0.5])
    assert last[:, 0].tolist() == [1, 1, 3, 3]
    assert terminated[:, 0].tolist() == [True, True, False, False]


def test_n_step_window_stops_at_a_truncated_step_but_bootstraps() -> None:
    cut = NO.copy()
    cut[1] = True
    returns, _, last, terminated = n_step_transitions(REWARDS, NO, cut, 0.5, 3)
    np.testing.assert_allclose(returns[:, 0], [2, 2, 5, 4])
    assert last[:, 0].tolist() == [1, 1, 3, 3]
    assert not terminated.any()


def test_one_step_transitions_are_the_plain_rewards() -> None:
    returns, discounts, last, _ = n_step_transitions(REWARDS, NO, NO, 0.9, 1)
    np.testing.assert_allclose(returns, REWARDS)
    np.testing.assert_allclose(discounts, 0.9)
    assert last[:, 0].tolist() == [0, 1, 2, 3]


def test_double_q_target_values_the_online_argmax_with_the_target_network() -> None:
    args = (torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([False]),
            torch.tensor([[1.0, 5.0]]))
    online = torch.tensor([[3.0, 2.0]])
    assert dqn_targets(*args, online).item() == pytest.approx(1 + 0.5 * 1.0)
    assert dqn_targets(*args, None).item() == pytest.approx(1 + 0.5 * 5.0)
    terminal = (args[0], args[1], torch.tensor([True]), args[3])
    assert dqn_targets(*terminal, online).item() == pytest.approx(1.0)


def test_epsilon_schedule_is_piecewise_linear_and_held_at_the_ends() -> None:
    schedule = [(0, 1.0), (100, 0.1)]
    assert epsilon_at(schedule, 0) == 1.0
    assert epsilon_at(schedule, 50) == pytest.approx(0.55)
    assert epsilon_at(schedule, 1000) == pytest.approx(0.1)
    assert epsilon_at(0.2, 12345) == 0.2


def test_replay_buffer_overwrites_the_oldest_rows() -> None:
    buffer = ReplayBuffer(capacity=3)
    buffer.add({"x": np.array([1, 2])})
    buffer.add({"x": np.array([3, 4])})
    assert len(buffer) == 3
    assert sorted(buffer.columns["x"].tolist()) == [2, 3, 4]
    sample = buffer.sample(50, np.random.default_rng(0))
    assert set(sample["x"].tolist()) <= {2, 3, 4}


def _cartpole(**training: object) -> DQNConfig:
    return (DQNConfig().environment("CartPole-v1")
            .training(lr=1e-3, epsilon=[(0, 1.0), (4000, 0.05)], n_step=3,
                      num_steps_sampled_before_learning_starts=500, **training)
            .reporting(metrics_num_episodes_for_smoothing=20)
            .debugging(seed=0))


def test_dqn_learns_cartpole_beyond_a_random_policy() -> None:
    algo = _cartpole().build()
    try:
        first = algo.train()
        assert first["num_env_steps_sampled"] == 1000
        assert first["replay_buffer_size"] == 1000
        best = first["episode_return_mean"]
        for _ in range(9):
            result = algo.train()
            best = max(best, result["episode_return_mean"])
            if best > 80:
                break
        assert best > 80, f"DQN did not learn: best mean return {best}"
        assert math.isfinite(result["qf_loss"]) and result["epsilon"] < first["epsilon"]
        assert isinstance(algo.compute_single_action(np.zeros(4, dtype=np.float32)), int)
    finally:
        algo.stop()


@pytest.mark.parametrize("settings", [
    {"double_q": False, "dueling": True, "td_error_loss_fn": "mse"},
    {"tau": 0.5, "training_intensity": 16.0},
])
def test_dqn_variants_train_with_finite_losses(settings: dict[str, object]) -> None:
    algo = _cartpole(**settings).reporting(min_sample_timesteps_per_iteration=600).build()
    try:
        result = algo.train()
        assert math.isfinite(result["qf_loss"])
        assert result["num_env_steps_trained"] > 0
    finally:
        algo.stop()
