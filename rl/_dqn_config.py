"""DQNConfig: Deep Q-Network settings (RLlib's names)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._config import (
    COMMON_CHECKS,
    AlgorithmConfig,
    NotProvided,
    SettingTypeError,
    UnknownSettingError,
    _check_bool,
    check_number,
)

_BUFFER_TYPES = {"ReplayBuffer", "EpisodeReplayBuffer", "MultiAgentReplayBuffer",
                 "MultiAgentEpisodeReplayBuffer"}


def _check_buffer(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise SettingTypeError(f"{name} must be a dict such as {{'capacity': 50000}}, got {value!r}")
    unknown = sorted(set(value) - {"capacity", "type"})
    if unknown:
        raise UnknownSettingError(
            f"unknown key(s) {unknown} in {name}; valid keys are: capacity, type")
    check_number(f"{name}['capacity']", value.get("capacity", 50_000), low=1, integer=True)
    kind = value.get("type", "ReplayBuffer")
    if kind not in _BUFFER_TYPES:
        raise ValueError(f"{name}['type'] must be one of {sorted(_BUFFER_TYPES)} (all are a "
                         f"uniform replay buffer here), got {kind!r}")


def check_epsilon(name: str, value: Any) -> None:
    """A constant in [0, 1] or a schedule [(timestep, epsilon), ...] with rising timesteps."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        check_number(name, value, low=0, high=1)
        return
    fix = "a number in [0, 1] or a list of (timestep, epsilon) pairs, e.g. [(0, 1.0), (10000, 0.05)]"
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{name} must be {fix}, got {value!r}")
    last = -math.inf
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{name} must be {fix}, got the entry {pair!r}")
        check_number(f"{name} timestep", pair[0], low=0)
        check_number(f"{name} value", pair[1], low=0, high=1)
        if pair[0] <= last:
            raise ValueError(f"{name} timesteps must increase, got {value!r}")
        last = pair[0]


def _check_loss(name: str, value: Any) -> None:
    if value not in ("huber", "mse"):
        raise ValueError(f"{name} must be 'huber' or 'mse', got {value!r}")


DQN_CHECKS = {
    **COMMON_CHECKS,
    "replay_buffer_config": _check_buffer,
    "target_network_update_freq": lambda n, v: check_number(n, v, low=1, integer=True),
    "double_q": _check_bool,
    "dueling": _check_bool,
    "n_step": lambda n, v: check_number(n, v, low=1, integer=True),
    "epsilon": check_epsilon,
    "num_steps_sampled_before_learning_starts": lambda n, v: check_number(n, v, low=0, integer=True),
    "training_intensity": lambda n, v: v is None or check_number(n, v, low=0, low_open=True),
    "tau": lambda n, v: check_number(n, v, low=0, high=1, low_open=True),
    "td_error_loss_fn": lambda n, v: _check_loss(n, v),
}


@dataclass(eq=False, repr=False)
class DQNConfig(AlgorithmConfig):
    """Settings of DQN (replay buffer, target network, double-Q, n-step returns).

    Example::

        from ember.rl import DQNConfig
        algo = (DQNConfig().environment("CartPole-v1")
                .training(lr=5e-4, replay_buffer_config={"capacity": 50000},
                          epsilon=[(0, 1.0), (10000, 0.05)], n_step=3)
                .build())
        result = algo.train()          # at least 1000 env steps per call

    The fields below the class docstring are DQN's own settings (and its defaults of
    ``lr``, ``model``, ...); the shared ones, usually set through the builders:

    Args:
        env / env_config: what to learn on (see ``environment()``): a gymnasium id, a
            ``gymnasium.Env`` subclass or a creator function, and the dict passed to it.
        num_env_runners: env-runner actors (default 0: sample in the driver).
        num_envs_per_env_runner: envs each runner steps as one vector env (default 1).
        rollout_fragment_length: steps per env per sample call ("auto" by default).
        gym_env_vectorize_mode: "SYNC" (default) or "ASYNC" (one process per env).
        num_cpus_per_env_runner: CPUs each runner actor holds (default 1).
        restart_failed_env_runners: replace a failed runner and keep training (default
            True; False makes ``train()`` raise the env's error).
        max_num_env_runner_restarts: runner restarts allowed before ``train()`` raises
            (default 1000).
        gamma: discount factor, in [0, 1] (default 0.99).
        evaluation_interval / evaluation_duration: run ``evaluate()`` every this many
            ``train()`` calls (default None: never), with this many greedy episodes
            (default 10).
        metrics_num_episodes_for_smoothing: ``episode_return_mean`` averages this many
            last episodes (default 100).
        seed: seeds torch, the envs and exploration (default None: unseeded).
        num_gpus: only 0 (CPU learner) is supported.
        torch_num_threads: torch threads in the learner and each runner (default 1;
            None: torch's default).
    """

    algo_name: ClassVar[str] = "DQN"
    checks: ClassVar[dict[str, Any]] = DQN_CHECKS

    lr: float = 5e-4
    """Adam learning rate."""
    train_batch_size: int = 32
    """Transitions per SGD step, drawn uniformly from the replay buffer."""
    grad_clip: float | None = 10.0
    """Clip the global gradient norm to this (None: no clipping)."""
    model: dict[str, Any] = field(default_factory=lambda: {"fcnet_hiddens": [64, 64],
                                                           "fcnet_activation": "relu"})
    """Network: ``fcnet_hiddens`` and ``fcnet_activation``."""
    min_sample_timesteps_per_iteration: int = 1000
    """One ``train()`` samples at least this many env steps."""
    replay_buffer_config: dict[str, Any] = field(default_factory=lambda: {"capacity": 50_000})
    """``capacity``: transitions kept (the oldest are overwritten)."""
    target_network_update_freq: int = 500
    """Sync the target network every this many sampled env steps."""
    double_q: bool = True
    """Pick the next action with the online network, value it with the target network."""
    dueling: bool = False
    """Q = V(s) + A(s, a) - mean A(s, .)."""
    n_step: int = 1
    """Sum this many discounted rewards before bootstrapping."""
    epsilon: Any = field(default_factory=lambda: [(0, 1.0), (10_000, 0.05)])
    """Exploration: a constant or [(timestep, epsilon), ...], linear in between."""
    num_steps_sampled_before_learning_starts: int = 1000
    """Env steps collected before the first SGD step."""
    training_intensity: float | None = None
    """Transitions trained per env step sampled (None: one SGD step per sample call)."""
    tau: float = 1.0
    """Target update weight: 1 copies, smaller values blend (Polyak averaging)."""
    td_error_loss_fn: str = "huber"
    """"huber" or "mse"."""

    def training(self, *, replay_buffer_config: Any = NotProvided,
                 target_network_update_freq: Any = NotProvided, double_q: Any = NotProvided,
                 dueling: Any = NotProvided, n_step: Any = NotProvided,
                 epsilon: Any = NotProvided,
                 num_steps_sampled_before_learning_starts: Any = NotProvided,
                 training_intensity: Any = NotProvided, tau: Any = NotProvided,
                 td_error_loss_fn: Any = NotProvided, **common: Any) -> DQNConfig:
        """DQN's settings plus the common ones (``lr``, ``gamma``, ``train_batch_size``,
        ``model``, ``grad_clip``); each left out keeps its value.

        Args:
            replay_buffer_config: ``{"capacity": n, "type": ...}``, merged into the
                current one (every type is a uniform replay buffer).
            target_network_update_freq: sync the target network every this many
                sampled env steps.
            double_q: pick the next action with the online network, value it with the
                target network.
            dueling: a dueling Q head, V(s) + A(s, a) - mean A(s, .).
            n_step: discounted rewards summed before bootstrapping.
            epsilon: exploration, a constant in [0, 1] or ``[(timestep, epsilon), ...]``
                interpolated linearly.
            num_steps_sampled_before_learning_starts: env steps collected before the
                first SGD step.
            training_intensity: transitions trained per env step sampled (None: one SGD
                step per sample call).
            tau: target update weight (1 copies; smaller values are Polyak averaging).
            td_error_loss_fn: "huber" or "mse".
        """
        if isinstance(replay_buffer_config, Mapping):  # as RLlib: update, not replace
            replay_buffer_config = {**self.replay_buffer_config, **replay_buffer_config}
        self._set("training", {}, replay_buffer_config=replay_buffer_config,
                  target_network_update_freq=target_network_update_freq, double_q=double_q,
                  dueling=dueling, n_step=n_step, epsilon=epsilon,
                  num_steps_sampled_before_learning_starts=num_steps_sampled_before_learning_starts,
                  training_intensity=training_intensity, tau=tau,
                  td_error_loss_fn=td_error_loss_fn)
        super().training(**common)
        return self

    def fragment_length(self) -> int:
        """"auto": about 4 env steps per sample call, shared by all envs."""
        if self.rollout_fragment_length != "auto":
            return int(self.rollout_fragment_length)
        return max(1, 4 // (self.num_envs_per_env_runner * max(1, self.num_env_runners)))
