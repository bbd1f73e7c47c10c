"""PPO, top to bottom: sample, GAE, clipped-surrogate epochs over minibatches.

    weights -> runners -> fragments [T, N] (obs, next_obs, actions, logp, rewards, done flags)
    V(obs), V(next_obs)   under the weights that sampled them
    GAE -> advantages, value targets                      (compute_gae)
    num_epochs x shuffled minibatches:
        loss = surrogate(ratio, A, clip)                  (ppo_surrogate_loss)
             + vf_loss_coeff * value_loss(V, V_old, R)    (clipped_value_loss)
             - entropy_coeff * entropy  (+ kl_coeff * KL with use_kl_loss)
        Adam step with the global gradient norm clipped to grad_clip

The numeric pieces are pure functions, tested against hand-computed cases.
Deviation from RLlib: ``vf_clip_param`` clips the change of the value prediction
(PPO's original value clipping, as cleanrl) rather than the value loss itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._model import ActorCritic, to_tensor


def compute_gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray,
                terminateds: np.ndarray, truncateds: np.ndarray, gamma: float, lambda_: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimates and value targets, all arrays [T, N].

    ``next_values[t]`` is V of the observation step t reached (the episode's last one
    when it ended there). A terminated step has no future (its bootstrap is 0); a
    truncated one bootstraps from V(last observation). Either way the recursion does not
    carry advantages across the episode boundary.
    """
    not_terminated = 1.0 - terminateds.astype(np.float32)
    not_done = 1.0 - (terminateds | truncateds).astype(np.float32)
    deltas = rewards + gamma * next_values * not_terminated - values
    advantages = np.zeros_like(deltas, dtype=np.float32)
    running = np.zeros(deltas.shape[1:], dtype=np.float32)
    for t in reversed(range(deltas.shape[0])):
        running = deltas[t] + gamma * lambda_ * not_done[t] * running
        advantages[t] = running
    return advantages, advantages + values


def normalize_advantages(advantages: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation (population std; unchanged shape)."""
    return (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8)


def ppo_surrogate_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                       clip_param: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate loss (to minimize) and the fraction of clipped ratios."""
    ratio = torch.exp(logp - old_logp)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_param, 1 + clip_param) * advantages
    clip_fraction = ((ratio - 1).abs() > clip_param).float().mean()
    return -torch.min(unclipped, clipped).mean(), clip_fraction


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor,
                       vf_clip_param: float | None) -> torch.Tensor:
    """0.5 * mean squared error; with ``vf_clip_param`` the pessimistic maximum of the
    error of the new value and of the old value moved by at most ``vf_clip_param``."""
    error = (values - targets) ** 2
    if vf_clip_param is not None:
        moved = old_values + torch.clamp(values - old_values, -vf_clip_param, vf_clip_param)
        error = torch.max(error, (moved - targets) ** 2)
    return 0.5 * error.mean()


def explained_variance(predicted: np.ndarray, targets: np.ndarray) -> float:
    """1 - Var(targets - predicted) / Var(targets); nan when the targets are constant."""
    variance = np.var(targets)
    return float("nan") if variance == 0 else float(1 - np.var(targets - predicted) / variance)


def concat_fragments(fragments: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Runners' [T, N_i, ...] fragments side by side: [T, sum N_i, ...]."""
    keys = ("obs", "next_obs", "actions", "logp", "rewards", "terminateds", "truncateds")
    return {key: np.concatenate([f[key] for f in fragments], axis=1) for key in keys}


class PPOLearner:
    """Owns the actor-critic and its optimizer; ``training_step`` is one PPO iteration."""

    def __init__(self, config: Any, observation_space: Any, action_space: Any):
        self.config = config
        self.observation_space = observation_space
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.module = ActorCritic(observation_space, action_space, config.model)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=config.lr, eps=1e-5)
        self.kl_coeff = config.kl_coeff
        self.rng = np.random.default_rng(config.seed)

    def training_step(self, sample: Callable[..., list[dict[str, Any]]]) -> dict[str, float]:
        c = self.config
        batch = concat_fragments(sample(self.module.state_dict(), c.fragment_length()))
        T, N = batch["rewards"].shape
        obs = to_tensor(batch["obs"].reshape(T * N, *batch["obs"].shape[2:]), self.observation_space)
        next_obs = to_tensor(batch["next_obs"].reshape(T * N, *batch["obs"].shape[2:]),
                             self.observation_space)
        with torch.no_grad():
            values = self.module.value(obs).numpy().reshape(T, N)
            next_values = self.module.value(next_obs).numpy().reshape(T, N)
        advantages, targets = compute_gae(batch["rewards"], values, next_values,
                                          batch["terminateds"], batch["truncateds"],
                                          c.gamma, c.lambda_)
        # Flatten [T, N] -> [B].
        actions = torch.from_numpy(batch["actions"].reshape(T * N, *batch["actions"].shape[2:]))
        old_logp = torch.from_numpy(batch["logp"].reshape(-1))
        old_values = torch.from_numpy(values.reshape(-1))
        adv = torch.from_numpy(advantages.reshape(-1))
        ret = torch.from_numpy(targets.reshape(-1).astype(np.float32))

        stats: dict[str, list[float]] = {k: [] for k in (
            "policy_loss", "vf_loss", "entropy", "kl", "clip_fraction", "total_loss", "grad_norm")}
        size = T * N
        for _ in range(c.num_epochs):
            order = torch.from_numpy(self.rng.permutation(size))
            for start in range(0, size, c.minibatch_size):
                mb = order[start:start + c.minibatch_size]
                logp, entropy = self.module.log_prob_entropy(obs[mb], actions[mb])
                mb_adv = normalize_advantages(adv[mb]) if c.normalize_advantages and len(mb) > 1 \
                    else adv[mb]
                policy_loss, clip_fraction = ppo_surrogate_loss(logp, old_logp[mb], mb_adv,
                                                                c.clip_param)
                vf_loss = clipped_value_loss(self.module.value(obs[mb]), old_values[mb], ret[mb],
                                             c.vf_clip_param)
                log_ratio = logp - old_logp[mb]
                kl = ((log_ratio.exp() - 1) - log_ratio).mean()  # KL(old || new) estimate
                loss = policy_loss + c.vf_loss_coeff * vf_loss - c.entropy_coeff * entropy.mean()
                if c.use_kl_loss:
                    loss = loss + self.kl_coeff * kl
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"PPO loss became {loss.item()} (policy {policy_loss.item()}, value "
                        f"{vf_loss.item()}); lower lr (now {c.lr}) or set grad_clip, and check "
                        "the env's rewards and observations for huge values")
                self.optimizer.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(
                    self.module.parameters(), c.grad_clip if c.grad_clip else float("inf"))
                self.optimizer.step()
                for key, value in (("policy_loss", policy_loss), ("vf_loss", vf_loss),
                                   ("entropy", entropy.mean()), ("kl", kl),
                                   ("clip_fraction", clip_fraction), ("total_loss", loss),
                                   ("grad_norm", norm)):
                    stats[key].append(float(value.detach()))
        metrics = {key: float(np.mean(values)) for key, values in stats.items()}
        if c.use_kl_loss:  # adapt the penalty toward kl_target, as RLlib does
            if metrics["kl"] > 2.0 * c.kl_target:
                self.kl_coeff *= 1.5
            elif metrics["kl"] < 0.5 * c.kl_target:
                self.kl_coeff *= 0.5
            metrics["kl_coeff"] = self.kl_coeff
        metrics["explained_variance"] = explained_variance(values.reshape(-1), targets.reshape(-1))
        metrics["num_env_steps_trained"] = float(size)
        return metrics

    def compute_actions(self, obs: np.ndarray, explore: bool) -> torch.Tensor:
        with torch.no_grad():
            x = to_tensor(obs, self.observation_space)
            return self.module.sample(x, None)[0] if explore else self.module.greedy(x)

    def get_state(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "kl_coeff": self.kl_coeff, "rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        self.kl_coeff = state.get("kl_coeff", self.kl_coeff)
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]
