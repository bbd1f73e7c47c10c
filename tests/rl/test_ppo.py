"""PPO's numerics against hand-computed cases, and PPO learning CartPole / acting on Box."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ember.rl import PPOConfig
from ember.rl._ppo import (
    clipped_value_loss,
    compute_gae,
    explained_variance,
    normalize_advantages,
    ppo_surrogate_loss,
)

REWARDS = np.array([[1.0], [1.0], [1.0]], dtype=np.float32)
VALUES = np.array([[0.5], [0.4], [0.3]], dtype=np.float32)
NEXT_VALUES = np.array([[0.4], [0.3], [0.2]], dtype=np.float32)
NO = np.zeros((3, 1), dtype=bool)


def _flags(step: int) -> np.ndarray:
    flags = NO.copy()
    flags[step] = True
    return flags


def test_gae_on_a_three_step_trajectory_without_episode_end() -> None:
    # deltas: 1 + 0.9 * V(s') - V(s) = 0.86, 0.87, 0.88; A_t = delta_t + 0.72 A_{t+1}
    advantages, targets = compute_gae(REWARDS, VALUES, NEXT_VALUES, NO, NO, 0.9, 0.8)
    np.testing.assert_allclose(advantages[:, 0], [0.86 + 0.72 * 1.5036, 0.87 + 0.72 * 0.88, 0.88],
                               rtol=1e-5)
    np.testing.assert_allclose(targets, advantages + VALUES, rtol=1e-6)


def test_gae_does_not_bootstrap_a_terminated_step() -> None:
    advantages, _ = compute_gae(REWARDS, VALUES, NEXT_VALUES, _flags(1), NO, 0.9, 0.8)
    # step 1 terminated: delta_1 = 1 - 0.4 = 0.6, and step 2's advantage is not carried back
    np.testing.assert_allclose(advantages[:, 0], [0.86 + 0.72 * 0.6, 0.6, 0.88], rtol=1e-5)


def test_gae_bootstraps_a_truncated_step_from_its_last_observation() -> None:
    advantages, _ = compute_gae(REWARDS, VALUES, NEXT_VALUES, NO, _flags(1), 0.9, 0.8)
    # step 1 truncated: delta_1 = 1 + 0.9 * V(final obs) - 0.4 = 0.87, no carry from step 2
    np.testing.assert_allclose(advantages[:, 0], [0.86 + 0.72 * 0.87, 0.87, 0.88], rtol=1e-5)


def test_gae_with_lambda_one_and_gamma_one_is_the_return_minus_value() -> None:
    # terminal at step 2 (no bootstrap): the targets are the returns 3, 2, 1
    _, targets = compute_gae(REWARDS, VALUES, NEXT_VALUES, _flags(2), NO, 1.0, 1.0)
    np.testing.assert_allclose(targets[:, 0], [3.0, 2.0, 1.0], rtol=1e-6)


def test_surrogate_loss_takes_the_pessimistic_clipped_term() -> None:
    logp = torch.log(torch.tensor([1.5, 0.5]))
    loss, clip_fraction = ppo_surrogate_loss(logp, torch.zeros(2), torch.tensor([2.0, -1.0]), 0.2)
    # ratio 1.5, A=2: min(3.0, 1.2*2=2.4) = 2.4; ratio 0.5, A=-1: min(-0.5, 0.8*-1=-0.8) = -0.8
    assert loss.item() == pytest.approx(-(2.4 - 0.8) / 2)
    assert clip_fraction.item() == 1.0


def test_surrogate_loss_inside_the_clip_range_is_ratio_times_advantage() -> None:
    loss, clip_fraction = ppo_surrogate_loss(torch.log(torch.tensor([1.1])), torch.zeros(1),
                                             torch.tensor([3.0]), 0.2)
    assert loss.item() == pytest.approx(-3.3)
    assert clip_fraction.item() == 0.0


def test_value_loss_clips_the_change_of_the_prediction() -> None:
    values, old, targets = torch.tensor([3.0]), torch.tensor([1.0]), torch.tensor([2.5])
    # unclipped error 0.25; old value moved by at most 0.5 -> 1.5, error 1.0; max -> 0.5 * 1.0
    assert clipped_value_loss(values, old, targets, 0.5).item() == pytest.approx(0.5)
    assert clipped_value_loss(values, old, targets, None).item() == pytest.approx(0.125)


def test_advantage_normalisation_gives_zero_mean_unit_std() -> None:
    out = normalize_advantages(torch.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out.numpy(), [-math.sqrt(1.5), 0.0, math.sqrt(1.5)], rtol=1e-5)


def test_explained_variance_is_one_for_perfect_and_nan_for_constant_targets() -> None:
    assert explained_variance(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 1.0
    assert math.isnan(explained_variance(np.array([1.0, 2.0]), np.array([3.0, 3.0])))


def _cartpole(**training: object) -> PPOConfig:
    return (PPOConfig().environment("CartPole-v1")
            .env_runners(num_env_runners=0, num_envs_per_env_runner=8)
            .training(lr=1e-3, train_batch_size=2048, minibatch_size=256, num_epochs=8,
                      **training)
            .reporting(metrics_num_episodes_for_smoothing=20)
            .debugging(seed=0))


def test_ppo_learns_cartpole_within_a_small_budget() -> None:
    algo = _cartpole().build()
    try:
        first = algo.train()
        best = first["episode_return_mean"]
        for _ in range(14):
            result = algo.train()
            best = max(best, result["episode_return_mean"])
            if best > 200:
                break
        assert first["episode_return_mean"] < 40  # a random policy: ~22
        assert best > 200, f"PPO did not learn: best mean return {best}"
        for key in ("policy_loss", "vf_loss", "entropy", "kl", "clip_fraction"):
            assert math.isfinite(result[key]), key
        assert result["num_env_steps_sampled"] == 2048 * result["training_iteration"]
    finally:
        algo.stop()


def test_ppo_with_the_kl_penalty_adapts_its_coefficient() -> None:
    algo = _cartpole(use_kl_loss=True, kl_coeff=0.2, kl_target=1e-6).build()
    try:
        result = algo.train()
        assert result["kl_coeff"] == pytest.approx(0.3)  # measured kl > 2 * target
    finally:
        algo.stop()


def test_ppo_on_a_box_action_space_samples_and_acts_within_bounds() -> None:
    algo = (PPOConfig().environment("Pendulum-v1")
            .env_runners(num_envs_per_env_runner=2)
            .training(train_batch_size=400, minibatch_size=100, num_epochs=2)
            .debugging(seed=0).build())
    try:
        result = algo.train()
        assert result["num_env_steps_sampled"] == 400
        assert result["episodes_this_iter"] == 2  # Pendulum truncates at 200 steps
        assert math.isfinite(result["episode_return_mean"]) and math.isfinite(result["entropy"])
        action = algo.compute_single_action(np.array([1.0, 0.0, 0.0], dtype=np.float32))
        assert isinstance(action, np.ndarray) and action.shape == (1,)
        assert -2.0 <= float(action[0]) <= 2.0
        explored = algo.compute_single_action(np.array([1.0, 0.0, 0.0]), explore=True)
        assert -2.0 <= float(explored[0]) <= 2.0
    finally:
        algo.stop()
