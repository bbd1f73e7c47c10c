"""Algorithm names -> their config class and learner, so "PPO" and "DQN" mean something
to ``Algorithm(settings_dict)``, checkpoints and tune's ``Tuner("PPO", ...)``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ._config import AlgorithmConfig
from ._dqn_config import DQNConfig
from ._ppo_config import PPOConfig

CONFIGS: dict[str, type[AlgorithmConfig]] = {"PPO": PPOConfig, "DQN": DQNConfig}
# The learners import torch, so they load on first use.
_LEARNERS = {"PPO": ("ember.rl._ppo", "PPOLearner"), "DQN": ("ember.rl._dqn", "DQNLearner")}


def config_class(name: Any) -> type[AlgorithmConfig]:
    """The config class registered as ``name`` (also accepts the class itself)."""
    if isinstance(name, type) and issubclass(name, AlgorithmConfig):
        return name
    if name not in CONFIGS:
        raise ValueError(f"unknown algorithm {name!r}; registered algorithms: {', '.join(CONFIGS)}")
    return CONFIGS[name]


def learner_class(name: str) -> Any:
    module, attribute = _LEARNERS[name]
    return getattr(importlib.import_module(module), attribute)


def resolve_config(config: Any, algo: Any = None, env: Any = None) -> AlgorithmConfig:
    """An independent, validated config from a config object or a settings dict.

    A dict names its algorithm with ``"algo"`` (as ``to_dict()`` writes it) or through
    the ``algo`` argument; ``env`` overrides the config's env.
    """
    if isinstance(config, AlgorithmConfig):
        if algo is not None and config_class(algo) is not type(config):
            raise ValueError(f"algo={algo!r} does not match the {type(config).__name__} given")
        resolved = config.copy()
    elif isinstance(config, Mapping) or config is None:
        settings = dict(config or {})
        name = algo if algo is not None else settings.get("algo")
        if name is None:
            raise ValueError(
                "a settings dict must say which algorithm it is for: include 'algo': 'PPO' "
                "(as config.to_dict() does) or pass Algorithm(settings, algo='PPO')")
        cls = config_class(name)
        settings.pop("algo", None)
        resolved = cls.from_dict(settings)
    else:
        raise TypeError(
            f"Algorithm takes a PPOConfig/DQNConfig or a settings dict, got {config!r}")
    if env is not None:
        resolved.environment(env)
    resolved.validate()
    return resolved
