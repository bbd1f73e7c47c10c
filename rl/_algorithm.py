"""Algorithm: a learner plus its env runners, driven one ``train()`` call at a time.

    Algorithm(config)  -> probe one env for its spaces, build the learner (torch) and the
                          EnvRunnerGroup (driver runner, or runner actors)
    train()            -> learner.training_step(sample) until enough env steps were
                          sampled; sample() counts steps and finished episodes
                       -> flat metrics dict (episode_return_mean over the last 100 episodes,
                          counters, timers, the learner's loss/entropy/kl stats)
    evaluate()         -> greedy episodes on a driver-side env
    save / restore / from_checkpoint / stop

The learner protocol (``_ppo.PPOLearner``, ``_dqn.DQNLearner``): ``training_step(sample)
-> metrics`` where ``sample(weights, num_steps, epsilon=None)`` returns fragments;
``compute_actions(obs, explore)``; ``get_state()`` / ``set_state(state)``; ``module``.
"""

from __future__ import annotations

import collections
import math
import tempfile
import time
from typing import Any, Self

import numpy as np

from . import _checkpoint
from ._config import AlgorithmConfig
from ._registry import config_class, learner_class, resolve_config


class Algorithm:
    """A trainable RL algorithm (PPO or DQN), built by ``config.build()``.

    Also constructible from a settings dict (``Algorithm(config.to_dict())``, or
    ``Algorithm(settings, algo="PPO")``), which is how tune builds one per trial.

    Example::

        algo = PPOConfig().environment("CartPole-v1").build()
        for _ in range(20):
            result = algo.train()
        path = algo.save("/tmp/cartpole")
        algo.stop()
        algo = Algorithm.from_checkpoint(path)
        action = algo.compute_single_action(obs)         # greedy; an int for Discrete

    Args:
        config: a ``PPOConfig``/``DQNConfig`` (copied), or a settings dict in
            ``to_dict()``'s form (None: an empty dict, the defaults of ``algo``, which
            must then be given). The result is validated.
        algo: the registered algorithm name ("PPO" or "DQN") of a settings dict (None:
            the dict's ``"algo"`` key); with a config object it must match its class.
        env: overrides the config's env (a gymnasium id, an Env class or a creator).
    """

    def __init__(self, config: AlgorithmConfig | dict[str, Any] | None = None, *,
                 algo: str | None = None, env: Any = None):
        import torch

        from ._env import probe_spaces
        from ._model import check_spaces
        from ._runner_group import EnvRunnerGroup

        self.config = resolve_config(config, algo, env)
        c = self.config
        if c.torch_num_threads:
            torch.set_num_threads(c.torch_num_threads)
        self.observation_space, self.action_space = probe_spaces(c.env, c.env_config)
        check_spaces(self.observation_space, self.action_space, c.algo_name)
        self.learner = learner_class(c.algo_name)(c, self.observation_space, self.action_space)
        self.env_runner_group: Any = EnvRunnerGroup(c, self.observation_space, self.action_space)
        self.iteration = 0
        self.num_env_steps_sampled = 0
        self.episodes_total = 0
        self.time_total_s = 0.0
        self._returns: collections.deque[float] = collections.deque(
            maxlen=c.metrics_num_episodes_for_smoothing)
        self._lengths: collections.deque[int] = collections.deque(
            maxlen=c.metrics_num_episodes_for_smoothing)
        self._eval_env: Any = None
        self._stopped = False

    @staticmethod
    def get_default_config(algo: str) -> AlgorithmConfig:
        """A fresh config of the algorithm registered as ``algo`` ("PPO" or "DQN").

        Args:
            algo: the registered name (a config class is also accepted).
        """
        return config_class(algo)()

    # ------------------------------------------------------------------ training
    def _sample(self, weights: dict[str, Any], num_steps: int, epsilon: float | None = None
                ) -> list[dict[str, Any]]:
        started = time.perf_counter()
        fragments = self.env_runner_group.sample(weights, num_steps, epsilon)
        for fragment in fragments:
            self.num_env_steps_sampled += fragment["rewards"].size
            self._returns.extend(fragment["episode_returns"])
            self._lengths.extend(fragment["episode_lengths"])
            self.episodes_total += len(fragment["episode_returns"])
        self._sample_time += time.perf_counter() - started
        return fragments

    def train(self) -> dict[str, Any]:
        """One training iteration; returns flat metrics (see the module docstring)."""
        self._check_running()
        started = time.perf_counter()
        steps_before, episodes_before = self.num_env_steps_sampled, self.episodes_total
        self._sample_time = 0.0
        while True:
            metrics = self.learner.training_step(self._sample)
            if self.num_env_steps_sampled - steps_before >= \
                    self.config.min_sample_timesteps_per_iteration:
                break
        self.iteration += 1
        elapsed = time.perf_counter() - started
        self.time_total_s += elapsed
        result: dict[str, Any] = {
            **self._episode_metrics(),
            "episodes_this_iter": self.episodes_total - episodes_before,
            "episodes_total": self.episodes_total,
            "num_env_steps_sampled": self.num_env_steps_sampled,
            "num_env_steps_sampled_this_iter": self.num_env_steps_sampled - steps_before,
            "training_iteration": self.iteration,
            "time_this_iter_s": elapsed,
            "time_total_s": self.time_total_s,
            "sample_time_s": self._sample_time,
            "learn_time_s": elapsed - self._sample_time,
            "num_healthy_env_runners": self.env_runner_group.num_healthy_runners,
            "num_env_runner_restarts": self.env_runner_group.num_restarts,
            **metrics,
        }
        interval = self.config.evaluation_interval
        if interval and self.iteration % interval == 0:
            result.update({f"evaluation/{k}": v for k, v in self.evaluate().items()})
        return result

    def _episode_metrics(self) -> dict[str, float]:
        if not self._returns:
            nan = math.nan
            return {"episode_return_mean": nan, "episode_return_min": nan,
                    "episode_return_max": nan, "episode_len_mean": nan}
        returns = np.asarray(self._returns)
        return {"episode_return_mean": float(returns.mean()),
                "episode_return_min": float(returns.min()),
                "episode_return_max": float(returns.max()),
                "episode_len_mean": float(np.mean(self._lengths))}

    # ------------------------------------------------------------------ acting
    def evaluate(self) -> dict[str, Any]:
        """``evaluation_duration`` greedy episodes on a driver-side vector env.

        Each env plays a fixed share of the episodes, so short episodes are not
        over-counted by finishing first.
        """
        from ._env import make_vector_env

        self._check_running()
        c = self.config
        n = min(c.evaluation_duration, c.num_envs_per_env_runner)
        seeds = None
        if self._eval_env is None:
            self._eval_env = make_vector_env(c.env, c.env_config, n, "SYNC", runner=-1)
            seeds = None if c.seed is None else [c.seed + 10**6 + j for j in range(n)]
        # Every evaluation starts all its envs on fresh episodes.
        obs, _ = self._eval_env.reset(seed=seeds)
        quota = [c.evaluation_duration // n + (1 if j < c.evaluation_duration % n else 0)
                 for j in range(n)]
        returns: list[float] = []
        lengths: list[int] = []
        running, steps = np.zeros(n), np.zeros(n, dtype=np.int64)
        while any(quota):
            obs, reward, terminated, truncated, _ = self._eval_env.step(self._act(obs, explore=False))
            running += reward
            steps += 1
            for j in np.flatnonzero(terminated | truncated):
                if quota[j]:
                    quota[j] -= 1
                    returns.append(float(running[j]))
                    lengths.append(int(steps[j]))
                running[j], steps[j] = 0.0, 0
        return {"episode_return_mean": float(np.mean(returns)),
                "episode_return_min": float(np.min(returns)),
                "episode_return_max": float(np.max(returns)),
                "episode_len_mean": float(np.mean(lengths)),
                "episodes": len(returns)}

    def _act(self, obs_batch: Any, explore: bool) -> np.ndarray:
        from ._model import env_action

        return env_action(self.learner.compute_actions(np.asarray(obs_batch), explore),
                          self.action_space)

    def compute_single_action(self, observation: Any, *, explore: bool = False) -> Any:
        """The action for one observation: greedy unless ``explore``; a plain int for a
        Discrete action space, an array clipped to the bounds for a Box.

        Args:
            observation: one observation, of the env's observation space's shape.
            explore: sample from the policy (PPO) or explore epsilon-greedily (DQN)
                instead of acting greedily.
        """
        self._check_running()
        if np.shape(observation) != self.observation_space.shape:
            raise ValueError(
                f"observation of shape {np.shape(observation)} does not match the env's "
                f"observation space {self.observation_space}")
        action = self._act(np.asarray(observation)[None], explore)[0]
        return int(action) if action.ndim == 0 else action

    def get_policy_state(self) -> dict[str, Any]:
        """The policy as plain data: ``weights`` (name -> numpy array), the spaces, the
        model settings and ``algo``; what ``Policy`` (and a serve deployment) needs."""
        weights = {k: v.detach().numpy().copy() for k, v in self.learner.module.state_dict().items()}
        return {"algo": self.config.algo_name, "weights": weights,
                "observation_space": self.observation_space, "action_space": self.action_space,
                "model": dict(self.config.model),
                "dueling": bool(getattr(self.config, "dueling", False))}

    # ------------------------------------------------------------------ checkpoints
    def save(self, checkpoint_dir: Any = None) -> _checkpoint.CheckpointPath:
        """Write a checkpoint directory (a new temporary one by default) and return its
        path (a ``str`` that also has ``.path``).

        Args:
            checkpoint_dir: a local folder or a pyarrow.fs URI such as ``s3://...``
                (None: a new temporary folder).
        """
        self._check_running()
        if checkpoint_dir is None:
            checkpoint_dir = tempfile.mkdtemp(prefix=f"ember-rl-{self.config.algo_name}-")
        state = {
            "algo": self.config.algo_name,
            "config": self.config.to_dict(),
            "learner": self.learner.get_state(),
            "counters": {"iteration": self.iteration,
                         "num_env_steps_sampled": self.num_env_steps_sampled,
                         "episodes_total": self.episodes_total,
                         "time_total_s": self.time_total_s,
                         "returns": list(self._returns), "lengths": list(self._lengths)},
        }
        meta = {"algo": self.config.algo_name, "training_iteration": self.iteration}
        return _checkpoint.write(checkpoint_dir, meta, state, self.get_policy_state())

    def restore(self, checkpoint_dir: Any) -> None:
        """Load a checkpoint of the same algorithm into this one (weights, optimizer,
        counters); the runners get the weights at the next ``train()``.

        Args:
            checkpoint_dir: a directory written by ``save`` (local folder or URI).
        """
        self._check_running()
        state = _checkpoint.read_state(checkpoint_dir)
        if state["algo"] != self.config.algo_name:
            raise ValueError(f"{checkpoint_dir} holds a {state['algo']} checkpoint; this "
                             f"algorithm is {self.config.algo_name}")
        self.learner.set_state(state["learner"])
        counters = state["counters"]
        self.iteration = counters["iteration"]
        self.num_env_steps_sampled = counters["num_env_steps_sampled"]
        self.episodes_total = counters["episodes_total"]
        self.time_total_s = counters["time_total_s"]
        self._returns.clear()
        self._returns.extend(counters["returns"])
        self._lengths.clear()
        self._lengths.extend(counters["lengths"])

    @classmethod
    def from_checkpoint(cls, checkpoint_dir: Any) -> Algorithm:
        """A new Algorithm with the config and state saved in ``checkpoint_dir``.

        Args:
            checkpoint_dir: a directory written by ``save`` (local folder or URI).
        """
        state = _checkpoint.read_state(checkpoint_dir)
        algo = cls(state["config"], algo=state["algo"])
        algo.restore(checkpoint_dir)
        return algo

    @staticmethod
    def policy_from_checkpoint(checkpoint_dir: Any) -> _checkpoint.Policy:
        """Only the policy of a checkpoint (no env, no runners): for serving.

        Args:
            checkpoint_dir: a directory written by ``save`` (local folder or URI).
        """
        return _checkpoint.Policy.from_checkpoint(checkpoint_dir)

    # ------------------------------------------------------------------ lifetime
    def stop(self) -> None:
        """Close the envs and end the runner actors; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.env_runner_group.stop()
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None

    def _check_running(self) -> None:
        if self._stopped:
            raise RuntimeError("this Algorithm was stopped; build a new one or "
                               "Algorithm.from_checkpoint(path)")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{self.config.algo_name}(env={self.config.env!r}, iteration={self.iteration})"
