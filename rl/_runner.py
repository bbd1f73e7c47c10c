"""EnvRunner: steps one gymnasium vector env with the current policy, returns a fragment.

    weights --load--> policy copy
    repeat T times:  obs --policy--> actions --vector env--> next obs, reward, done
    -> fragment: arrays shaped [T, N, ...] (N envs) + the episodes that finished

The same class runs in the driver (``num_env_runners=0``) and as an Ember actor. Envs
keep running across calls: a fragment ends mid-episode, and the next call continues
the episode. ``next_obs[t]`` is the observation the step actually reached (the last
one of the episode when it ended), so learners bootstrap truncated episodes from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._env import check_finite, final_observations, make_vector_env
from ._model import build_module, env_action, to_tensor


class EnvRunner:
    """Samples fragments; see the module docstring."""

    def __init__(self, config: Any, index: int, observation_space: Any, action_space: Any,
                 restarts: int = 0):
        if config.torch_num_threads:
            torch.set_num_threads(config.torch_num_threads)
        self.config = config
        self.index = index
        self.observation_space = observation_space
        self.action_space = action_space
        self.algo = config.algo_name
        self.module = build_module(self.algo, observation_space, action_space, vars(config))
        self.module.eval()
        self.generator = torch.Generator()
        base = config.seed
        # A restarted runner draws a fresh stream, so it does not replay the same episodes.
        self.seed = None if base is None else base + 1000 * index + 7919 * restarts
        if self.seed is not None:
            self.generator.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.env: Any = None  # made on the first sample() call, so __init__ never raises
        self.steps = 0

    def _start(self) -> None:
        n = self.config.num_envs_per_env_runner
        self.env = make_vector_env(self.config.env, self.config.env_config, n,
                                   self.config.gym_env_vectorize_mode, self.index)
        seeds = None if self.seed is None else [self.seed + j for j in range(n)]
        self.obs, _ = self.env.reset(seed=seeds)
        self.episode_return = np.zeros(n)
        self.episode_len = np.zeros(n, dtype=np.int64)

    def sample(self, weights: dict[str, Any] | None, num_steps: int,
               epsilon: float | None = None) -> dict[str, Any]:
        """``num_steps`` vector steps with ``weights``; exploring (PPO: sampling from
        the policy, DQN: epsilon-greedy with ``epsilon``)."""
        if weights is not None:
            self.module.load_state_dict(weights)
        if self.env is None:
            self._start()
        n, space = self.config.num_envs_per_env_runner, self.observation_space
        obs = np.empty((num_steps, n, *np.shape(self.obs)[1:]), dtype=np.asarray(self.obs).dtype)
        next_obs = np.empty_like(obs)
        rewards = np.empty((num_steps, n), dtype=np.float32)
        terminateds = np.empty((num_steps, n), dtype=bool)
        truncateds = np.empty((num_steps, n), dtype=bool)
        actions: np.ndarray | None = None
        logps = np.empty((num_steps, n), dtype=np.float32) if self.algo == "PPO" else None
        returns, lengths = [], []
        for t in range(num_steps):
            with torch.no_grad():
                x = to_tensor(self.obs, space)
                if self.algo == "PPO":
                    action, logp = self.module.sample(x, self.generator)
                    logps[t] = logp.numpy()  # type: ignore[index]
                else:
                    action = self.module(x).argmax(-1)
                    explore = self.rng.random(n) < (epsilon or 0.0)
                    if explore.any():
                        random = self.rng.integers(0, self.action_space.n, n)
                        action = torch.from_numpy(np.where(explore, random, action.numpy()))
            action_np = action.numpy()
            if actions is None:
                actions = np.empty((num_steps, *action_np.shape), dtype=action_np.dtype)
            actions[t] = action_np
            obs[t] = self.obs
            self.obs, reward, terminated, truncated, info = self.env.step(
                env_action(action, self.action_space))
            self.steps += 1
            self.episode_len += 1
            check_finite("reward", np.asarray(reward, dtype=np.float64), self.index, self.steps,
                         self.episode_len)
            done = terminated | truncated
            reached = final_observations(self.obs, done, info)
            check_finite("observation", np.asarray(reached), self.index, self.steps, self.episode_len)
            next_obs[t], rewards[t], terminateds[t], truncateds[t] = reached, reward, terminated, truncated
            self.episode_return += reward
            if done.any():
                for i in np.flatnonzero(done):
                    returns.append(float(self.episode_return[i]))
                    lengths.append(int(self.episode_len[i]))
                self.episode_return[done] = 0.0
                self.episode_len[done] = 0
        fragment = {"obs": obs, "next_obs": next_obs, "actions": actions, "rewards": rewards,
                    "terminateds": terminateds, "truncateds": truncateds,
                    "episode_returns": returns, "episode_lengths": lengths}
        if logps is not None:
            fragment["logp"] = logps
        return fragment

    def stop(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
