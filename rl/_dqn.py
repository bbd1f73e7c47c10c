"""DQN, top to bottom: epsilon-greedy sampling, n-step transitions into replay, TD updates.

    epsilon_at(schedule, env steps) -> runners sample [T, N] fragments epsilon-greedily
    n_step_transitions: (s_t, a_t, R_t = sum_k gamma^k r_{t+k}, gamma^m, s_{t+m}, terminated)
    replay buffer <- transitions;  once it holds learning_starts steps, per sample call:
        y = R + gamma^m (1 - terminated) Q_target(s', argmax_a Q(s', a))   (double_q)
          = R + gamma^m (1 - terminated) max_a Q_target(s', a)             (otherwise)
        loss = huber(Q(s, a) - y);  Adam step with grad_clip
    every target_network_update_freq env steps: target <- tau * online + (1 - tau) * target

The numeric pieces (epsilon_at, n_step_transitions, dqn_targets) are pure functions,
tested against hand-computed cases. An n-step window stops at the end of an episode
(terminated or truncated: a truncated window bootstraps from its last observation) and
at the end of the fragment, so it never spans two episodes.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._model import QNetwork, to_tensor
from ._replay import ReplayBuffer


def epsilon_at(schedule: Any, timestep: float) -> float:
    """A constant, or the piecewise-linear schedule [(timestep, value), ...] at ``timestep``
    (held at the first/last value outside the schedule's range)."""
    if isinstance(schedule, (int, float)):
        return float(schedule)
    points = [(float(t), float(v)) for t, v in schedule]
    if timestep <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if timestep <= t1:
            return v0 + (v1 - v0) * (timestep - t0) / (t1 - t0)
    return points[-1][1]


def n_step_transitions(rewards: np.ndarray, terminateds: np.ndarray, truncateds: np.ndarray,
                       gamma: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n-step returns for every step of a [T, N] fragment.

    Returns ``(returns, discounts, last, terminated)``, each [T, N]: the discounted sum
    of up to ``n`` rewards, gamma^m for the m rewards summed, the index of the window's
    last step (its ``next_obs`` is the bootstrap observation) and whether the episode
    terminated inside the window (then there is nothing to bootstrap).
    """
    T, N = rewards.shape
    returns = np.zeros((T, N), dtype=np.float32)
    discounts = np.ones((T, N), dtype=np.float32)
    last = np.zeros((T, N), dtype=np.int64)
    terminated = np.zeros((T, N), dtype=bool)
    for t in range(T):
        alive = np.ones(N, dtype=bool)
        for k in range(min(n, T - t)):
            s = t + k
            returns[t] += np.where(alive, discounts[t] * rewards[s], 0.0)
            discounts[t] = np.where(alive, discounts[t] * gamma, discounts[t])
            last[t] = np.where(alive, s, last[t])
            terminated[t] |= alive & terminateds[s]
            alive &= ~(terminateds[s] | truncateds[s])
    return returns, discounts, last, terminated


def dqn_targets(returns: torch.Tensor, discounts: torch.Tensor, terminated: torch.Tensor,
                next_q_target: torch.Tensor, next_q_online: torch.Tensor | None) -> torch.Tensor:
    """TD targets [B]: ``returns + discounts * (1 - terminated) * Q_target(s', a*)`` with
    a* the online network's argmax (double-Q, when ``next_q_online`` is given) or the
    target network's own max."""
    if next_q_online is not None:
        best = next_q_online.argmax(-1, keepdim=True)
        bootstrap = next_q_target.gather(-1, best).squeeze(-1)
    else:
        bootstrap = next_q_target.max(-1).values
    return returns + discounts * (1.0 - terminated.float()) * bootstrap


class DQNLearner:
    """Owns the Q-network, its target copy, the optimizer and the replay buffer."""

    def __init__(self, config: Any, observation_space: Any, action_space: Any):
        self.config = config
        self.observation_space = observation_space
        self.num_actions = int(action_space.n)
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.module = QNetwork(observation_space, action_space, config.model, config.dueling)
        self.target = copy.deepcopy(self.module)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=config.lr)
        self.buffer = ReplayBuffer(config.replay_buffer_config.get("capacity", 50_000))
        self.rng = np.random.default_rng(config.seed)
        self.env_steps = 0
        self.last_target_update = 0
        self.update_credit = 0.0  # fractional SGD steps owed under training_intensity
        self.num_updates = 0

    def training_step(self, sample: Callable[..., list[dict[str, Any]]]) -> dict[str, float]:
        c = self.config
        epsilon = epsilon_at(c.epsilon, self.env_steps)
        fragments = sample(self.module.state_dict(), c.fragment_length(), epsilon)
        sampled = 0
        for f in fragments:
            returns, discounts, last, terminated = n_step_transitions(
                f["rewards"], f["terminateds"], f["truncateds"], c.gamma, c.n_step)
            T, N = f["rewards"].shape
            bootstrap_obs = f["next_obs"][last, np.arange(N)[None, :]]
            self.buffer.add({
                "obs": f["obs"].reshape(T * N, *f["obs"].shape[2:]),
                "actions": f["actions"].reshape(T * N),
                "returns": returns.reshape(-1), "discounts": discounts.reshape(-1),
                "next_obs": bootstrap_obs.reshape(T * N, *f["obs"].shape[2:]),
                "terminated": terminated.reshape(-1)})
            sampled += T * N
        self.env_steps += sampled

        stats: dict[str, list[float]] = {"qf_loss": [], "q_mean": [], "td_error_abs": []}
        if self.env_steps >= c.num_steps_sampled_before_learning_starts and len(self.buffer):
            if c.training_intensity is None:
                updates = 1
            else:
                self.update_credit += c.training_intensity * sampled / c.train_batch_size
                updates = int(self.update_credit)
                self.update_credit -= updates
            for _ in range(updates):
                self._update(self.buffer.sample(c.train_batch_size, self.rng), stats)
        if self.env_steps - self.last_target_update >= c.target_network_update_freq:
            self._sync_target()
            self.last_target_update = self.env_steps
        metrics = {k: float(np.mean(v)) if v else math.nan for k, v in stats.items()}
        metrics.update(epsilon=epsilon, replay_buffer_size=float(len(self.buffer)),
                       num_env_steps_trained=float(self.num_updates * c.train_batch_size))
        return metrics

    def _update(self, batch: dict[str, np.ndarray], stats: dict[str, list[float]]) -> None:
        c = self.config
        obs = to_tensor(batch["obs"], self.observation_space)
        next_obs = to_tensor(batch["next_obs"], self.observation_space)
        actions = torch.from_numpy(batch["actions"]).long()
        with torch.no_grad():
            targets = dqn_targets(
                torch.from_numpy(batch["returns"]), torch.from_numpy(batch["discounts"]),
                torch.from_numpy(batch["terminated"]), self.target(next_obs),
                self.module(next_obs) if c.double_q else None)
        q = self.module(obs).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        if c.td_error_loss_fn == "huber":
            loss = torch.nn.functional.smooth_l1_loss(q, targets)
        else:
            loss = torch.nn.functional.mse_loss(q, targets)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"DQN loss became {loss.item()}; lower lr (now {c.lr}) or set grad_clip, and "
                "check the env's rewards for huge values")
        self.optimizer.zero_grad()
        loss.backward()
        if c.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), c.grad_clip)
        self.optimizer.step()
        self.num_updates += 1
        stats["qf_loss"].append(float(loss.detach()))
        stats["q_mean"].append(float(q.detach().mean()))
        stats["td_error_abs"].append(float((q.detach() - targets).abs().mean()))

    def _sync_target(self) -> None:
        tau = self.config.tau
        with torch.no_grad():
            for target, online in zip(self.target.parameters(), self.module.parameters()):
                target.mul_(1 - tau).add_(online, alpha=tau)

    def compute_actions(self, obs: np.ndarray, explore: bool) -> torch.Tensor:
        with torch.no_grad():
            greedy = self.module(to_tensor(obs, self.observation_space)).argmax(-1)
        if not explore:
            return greedy
        epsilon = epsilon_at(self.config.epsilon, self.env_steps)
        random = torch.from_numpy(self.rng.integers(0, self.num_actions, len(greedy)))
        return torch.where(torch.from_numpy(self.rng.random(len(greedy)) < epsilon), random, greedy)

    def get_state(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "env_steps": self.env_steps,
                "last_target_update": self.last_target_update, "num_updates": self.num_updates,
                "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.target.load_state_dict(state.get("target", state["module"]))
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.env_steps = state.get("env_steps", 0)
        self.last_target_update = state.get("last_target_update", 0)
        self.num_updates = state.get("num_updates", 0)
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
