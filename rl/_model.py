"""The torch networks: an actor-critic for PPO and a Q-network for DQN.

    obs (numpy) --to_tensor--> [B, obs_size] float32 --MLP trunk--> heads
      Box obs: flattened;  Discrete obs: one-hot
    ActorCritic: policy head -> Categorical logits (Discrete actions)
                               or Gaussian mean + state-independent log_std (Box actions)
                 value head  -> V(s)
    QNetwork:    Q(s, .) (optionally dueling: V(s) + A(s, .) - mean A(s, .))

Sampling and log-probabilities are written out by hand rather than through
``torch.distributions``: the runner calls them once per vector step, where the
distribution objects' argument checks cost more than the network itself.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def check_spaces(observation_space: Any, action_space: Any, algo: str) -> None:
    """Raise a ValueError naming the space this library cannot handle."""
    if not isinstance(observation_space, (gym.spaces.Box, gym.spaces.Discrete)):
        raise ValueError(  # noqa: TRY004  a bad setting (the env), not a bad argument type
            f"observation space {observation_space} is not supported: use a Box or Discrete "
            "observation space (flatten Dict/Tuple spaces with gymnasium.wrappers.FlattenObservation)")
    if isinstance(action_space, gym.spaces.Discrete):
        return
    if isinstance(action_space, gym.spaces.Box) and algo == "PPO" and len(action_space.shape) == 1:
        return
    supported = "a Discrete or 1-D Box action space" if algo == "PPO" else "a Discrete action space"
    raise ValueError(f"action space {action_space} is not supported by {algo}: it needs {supported}")


def obs_size(space: Any) -> int:
    return int(space.n) if isinstance(space, gym.spaces.Discrete) else int(np.prod(space.shape))


def to_tensor(obs: Any, space: Any) -> torch.Tensor:
    """A batch of observations [B, ...] as the networks' float32 input [B, obs_size]."""
    if isinstance(space, gym.spaces.Discrete):
        index = torch.as_tensor(np.asarray(obs, dtype=np.int64) - int(space.start))
        return nn.functional.one_hot(index, int(space.n)).float()
    array = np.asarray(obs, dtype=np.float32)
    return torch.from_numpy(array.reshape(array.shape[0], -1))


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(n_in: int, hiddens: list[int], activation: str) -> tuple[nn.Sequential, int]:
    """The hidden layers; returns the trunk and its output width."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    layers: list[nn.Module] = []
    for width in hiddens:
        layers += [_layer(n_in, width, math.sqrt(2)), act()]
        n_in = width
    return nn.Sequential(*layers), n_in


class ActorCritic(nn.Module):
    """Policy and value networks (separate trunks unless ``vf_share_layers``)."""

    def __init__(self, observation_space: Any, action_space: Any, model: dict[str, Any]):
        super().__init__()
        hiddens = list(model.get("fcnet_hiddens", [64, 64]))
        activation = model.get("fcnet_activation", "tanh")
        n_in = obs_size(observation_space)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        n_out = int(action_space.n) if self.discrete else int(action_space.shape[0])
        self.shared = bool(model.get("vf_share_layers", False))
        self.pi_trunk, width = mlp(n_in, hiddens, activation)
        self.vf_trunk = self.pi_trunk if self.shared else mlp(n_in, hiddens, activation)[0]
        self.pi_head = _layer(width, n_out, 0.01)
        self.vf_head = _layer(width, 1, 1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.zeros(n_out))

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [B, n] (Discrete) or Gaussian means [B, act_dim] (Box)."""
        return self.pi_head(self.pi_trunk(x))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """V(s): [B]."""
        return self.vf_head(self.vf_trunk(x)).squeeze(-1)

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions drawn from the policy and their log-probabilities [B]."""
        out = self.policy(x)
        if self.discrete:
            log_probs = torch.log_softmax(out, dim=-1)
            actions = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(-1)
            return actions, log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        assert self.log_std is not None
        noise = torch.randn(out.shape, generator=generator)
        actions = out + noise * self.log_std.exp()
        return actions, gaussian_log_prob(out, self.log_std, actions)

    def greedy(self, x: torch.Tensor) -> torch.Tensor:
        out = self.policy(x)
        return out.argmax(-1) if self.discrete else out

    def log_prob_entropy(self, x: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and the policy's entropy, both [B]."""
        out = self.policy(x)
        if self.discrete:
            log_probs = torch.log_softmax(out, dim=-1)
            logp = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
            return logp, -(log_probs.exp() * log_probs).sum(-1)
        assert self.log_std is not None
        entropy = (0.5 + _LOG_SQRT_2PI + self.log_std).sum().expand(out.shape[0])
        return gaussian_log_prob(out, self.log_std, actions), entropy


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std - _LOG_SQRT_2PI).sum(-1)


class QNetwork(nn.Module):
    """Q(s, a) for every discrete action: [B, n]."""

    def __init__(self, observation_space: Any, action_space: Any, model: dict[str, Any],
                 dueling: bool = False):
        super().__init__()
        hiddens = list(model.get("fcnet_hiddens", [64, 64]))
        self.trunk, width = mlp(obs_size(observation_space), hiddens,
                                model.get("fcnet_activation", "relu"))
        n = int(action_space.n)
        self.head = _layer(width, n, 1.0)
        self.value_head = _layer(width, 1, 1.0) if dueling else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        q = self.head(h)
        if self.value_head is not None:  # dueling: V(s) + A(s, a) - mean_a A(s, a)
            q = self.value_head(h) + q - q.mean(-1, keepdim=True)
        return q


def build_module(algo: str, observation_space: Any, action_space: Any,
                 config: dict[str, Any]) -> nn.Module:
    """The network ``algo`` learns, from the config's ``model`` (and DQN's ``dueling``)."""
    if algo == "PPO":
        return ActorCritic(observation_space, action_space, config["model"])
    return QNetwork(observation_space, action_space, config["model"], config.get("dueling", False))


def env_action(actions: torch.Tensor, action_space: Any) -> np.ndarray:
    """Actions as the env takes them: ints for Discrete, clipped to the bounds for Box."""
    array = actions.numpy()
    if isinstance(action_space, gym.spaces.Discrete):
        return array.astype(np.int64) + int(action_space.start)
    return np.clip(array, action_space.low, action_space.high).astype(action_space.dtype)
