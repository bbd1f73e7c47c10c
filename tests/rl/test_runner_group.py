"""Env runners: the driver or 1-2 actors, failing envs (raise / NaN), restarts, stop()."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
from ember.rl import DQNConfig, PPOConfig
from tests_support import wait_for

import ember


@pytest.fixture(scope="module", autouse=True)
def session():  # type: ignore[no-untyped-def]
    ember.shutdown()
    ember.init(num_cpus=2)
    yield
    ember.shutdown()


def _ppo(env, runners: int, **env_runners: object) -> PPOConfig:
    return (PPOConfig().environment(env, env_config={})
            .env_runners(num_env_runners=runners, num_envs_per_env_runner=2, **env_runners)
            .training(train_batch_size=200, minibatch_size=100, num_epochs=1)
            .debugging(seed=0))


@pytest.mark.parametrize("runners", [0, 1, 2])
def test_each_runner_count_samples_the_batch_and_learns_from_it(runners: int) -> None:
    algo = _ppo("CartPole-v1", runners).build()
    try:
        first, second = algo.train(), algo.train()
        assert second["num_env_steps_sampled"] == 2 * first["num_env_steps_sampled"] == 400
        assert second["num_healthy_env_runners"] == max(runners, 1)
        assert second["training_iteration"] == 2 and second["time_this_iter_s"] > 0
        assert second["episodes_this_iter"] > 0 and np.isfinite(second["episode_return_mean"])
    finally:
        algo.stop()


def test_stop_ends_the_runner_actors_and_frees_their_cpus() -> None:
    algo = _ppo("CartPole-v1", 2).build()
    algo.train()
    assert ember.available_resources().get("CPU", 0) == 0
    algo.stop()
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2, timeout=10)
    algo.stop()  # twice is fine
    with pytest.raises(RuntimeError, match="stopped"):
        algo.train()


class Exploding(gym.Env):
    """Raises on the 5th step of every episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t == 5:
            raise KeyError("the simulator lost its state")
        return np.zeros(2, np.float32), 1.0, False, False, {}


class NaNAtStep3(Exploding):
    def step(self, action):
        self.t += 1
        obs = np.full(2, np.nan if self.t == 3 else 0.0, np.float32)
        return obs, 1.0, False, False, {}


class FailsOnce(Exploding):
    """Raises once in the whole test (a marker file says it already did)."""

    def __init__(self, config):
        super().__init__(config)
        self.marker = config["marker"]

    def _first_to_fail(self) -> bool:
        """Atomic across runner processes: exactly one env ever fails."""
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            return True
        except FileExistsError:
            return False

    def step(self, action):
        self.t += 1
        if self.t == 3 and self._first_to_fail():
            raise RuntimeError("transient simulator crash")
        return np.zeros(2, np.float32), 1.0, self.t >= 10, False, {}


@pytest.mark.parametrize("runners", [0, 1])
def test_env_exception_reaches_train_caller_with_its_type_message_and_location(runners: int) -> None:
    algo = _ppo(Exploding, runners).build()
    try:
        with pytest.raises(KeyError, match="lost its state") as info:
            algo.train()
        text = str(info.value) + "".join(getattr(info.value, "__notes__", []))
        assert f"env runner {runners}" in text and "step 5" in text
        assert algo.env_runner_group.num_restarts > 0  # restarted, then gave up
    finally:
        algo.stop()


def test_env_exception_without_restarts_raises_at_once() -> None:
    algo = _ppo(Exploding, 1, restart_failed_env_runners=False).build()
    try:
        with pytest.raises(KeyError, match="lost its state"):
            algo.train()
        assert algo.env_runner_group.num_restarts == 0
    finally:
        algo.stop()


@pytest.mark.parametrize("runners", [0, 1])
def test_nan_observation_names_the_env_and_step(runners: int) -> None:
    algo = _ppo(NaNAtStep3, runners, restart_failed_env_runners=False).build()
    try:
        with pytest.raises(ValueError, match="non-finite observation") as info:
            algo.train()
        assert f"env 0 of env runner {runners}" in str(info.value)
        assert "step 3 of its episode" in str(info.value)
    finally:
        algo.stop()


@pytest.mark.parametrize("runners", [0, 2])
def test_a_runner_whose_env_failed_once_is_restarted_and_training_continues(
        runners: int, tmp_path) -> None:
    config = _ppo(FailsOnce, runners).environment(env_config={"marker": str(tmp_path / "m")})
    algo = config.build()
    try:
        results = [algo.train() for _ in range(3)]
        assert results[-1]["num_env_runner_restarts"] == 1
        assert results[-1]["num_healthy_env_runners"] == max(runners, 1)
        assert results[-1]["num_env_steps_sampled"] >= 400
    finally:
        algo.stop()


def test_max_num_env_runner_restarts_limits_restarts() -> None:
    algo = _ppo(Exploding, 0, max_num_env_runner_restarts=1).build()
    try:
        with pytest.raises(KeyError) as info:
            algo.train()
        assert "max_num_env_runner_restarts" in "".join(info.value.__notes__)
        assert algo.env_runner_group.num_restarts == 1
    finally:
        algo.stop()


def test_dqn_samples_through_two_runner_actors() -> None:
    algo = (DQNConfig().environment("CartPole-v1").env_runners(num_env_runners=2)
            .reporting(min_sample_timesteps_per_iteration=200)
            .training(num_steps_sampled_before_learning_starts=100).build())
    try:
        result = algo.train()
        assert result["num_env_steps_sampled"] >= 200 and result["num_healthy_env_runners"] == 2
        assert np.isfinite(result["qf_loss"])
    finally:
        algo.stop()


def test_async_vector_env_mode_samples() -> None:
    algo = _ppo("CartPole-v1", 0, gym_env_vectorize_mode="ASYNC").build()
    try:
        assert algo.train()["num_env_steps_sampled"] == 200
    finally:
        algo.stop()
