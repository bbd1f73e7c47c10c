"""Making envs from what the user configured, and telling which env went wrong.

    config.env: "CartPole-v1" -> gymnasium.make(id, **env_config)
                an Env class  -> cls(env_config)
                a function    -> creator(env_config)
    make_vector_env(...) -> gymnasium SyncVectorEnv / AsyncVectorEnv in SAME_STEP
        autoreset mode: when an episode ends, step() returns the next episode's first
        observation and puts the last one in info["final_obs"], which is what
        bootstrapping on truncation needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


class EnvNaNError(ValueError):
    """An env returned a NaN or infinite observation or reward."""


def env_creator(env: Any, env_config: dict[str, Any]) -> Callable[[], gym.Env]:
    """A no-argument function that makes one env as the config describes."""
    if isinstance(env, str):
        return lambda: gym.make(env, **env_config)
    if isinstance(env, type) and issubclass(env, gym.Env):
        return lambda: env(env_config)
    if callable(env):
        return lambda: _checked_env(env(env_config), env)
    raise ValueError(
        f"env must be a gymnasium id, a gymnasium.Env subclass or a creator function, got {env!r}")


def _checked_env(made: Any, creator: Any) -> gym.Env:
    if not isinstance(made, gym.Env):
        name = getattr(creator, "__name__", repr(creator))
        raise TypeError(f"the env creator {name}(env_config) returned {made!r}, not a gymnasium.Env")
    return made


def probe_spaces(env: Any, env_config: dict[str, Any]) -> tuple[Any, Any]:
    """Build one env in this process for its observation and action spaces.

    Runs at ``build()``, so a broken env (unknown id, a constructor that raises) fails
    there with the env's own exception rather than later inside a runner.
    """
    one = env_creator(env, env_config)()
    try:
        return one.observation_space, one.action_space
    finally:
        one.close()


class _Located(gym.Wrapper):
    """Adds "env i of env runner r, step n of its episode" to an exception the env raises."""

    def __init__(self, env: gym.Env, index: int, runner: int):
        super().__init__(env)
        self.where = f"env {index} of env runner {runner}"
        self.episode_step = 0

    def reset(self, **kwargs: Any) -> Any:
        self.episode_step = 0
        try:
            return self.env.reset(**kwargs)
        except Exception as error:
            error.add_note(f"raised by reset() of {self.where}")
            raise

    def step(self, action: Any) -> Any:
        self.episode_step += 1
        try:
            return self.env.step(action)
        except Exception as error:
            error.add_note(f"raised by step() of {self.where} at step {self.episode_step} "
                           "of its episode")
            raise


def make_vector_env(env: Any, env_config: dict[str, Any], num_envs: int, mode: str,
                    runner: int) -> gym.vector.VectorEnv:
    creator = env_creator(env, env_config)

    def located(index: int) -> Callable[[], gym.Env]:
        return lambda: _Located(creator(), index, runner)

    fns = [located(i) for i in range(num_envs)]
    autoreset = gym.vector.AutoresetMode.SAME_STEP
    if mode == "ASYNC":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=autoreset)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=autoreset)


def final_observations(next_obs: np.ndarray, done: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """The observation each env actually reached: ``next_obs``, except the last
    observation of an episode for envs that just finished one."""
    if not done.any():
        return next_obs
    reached = next_obs.copy()
    mask = info.get("_final_obs", done)
    for i in np.flatnonzero(mask):
        reached[i] = info["final_obs"][i]
    return reached


def check_finite(what: str, values: np.ndarray, runner: int, step: int, episode_steps: np.ndarray) -> None:
    """Raise EnvNaNError naming the env (within the runner) and the step that returned NaN."""
    if values.dtype.kind != "f" or np.isfinite(values).all():
        return
    bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
    index = int(np.flatnonzero(bad)[0])
    raise EnvNaNError(
        f"env {index} of env runner {runner} returned a non-finite {what} "
        f"({values[index]!r}) at sample step {step} (step {int(episode_steps[index])} of its "
        "episode); fix the env or wrap it to clip or replace such values")
