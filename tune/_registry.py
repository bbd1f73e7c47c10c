"""Trainables known by name (``Tuner("PPO")``) and objects that turn into trainables.

Libraries register their trainables when imported (ember.rl registers "PPO" and "DQN").
A name not registered yet makes tune import the packages known to register trainables,
once; this is plugin discovery by name, not a dependency: tune never imports them
otherwise, and they depend on tune, not the reverse.
"""

from __future__ import annotations

import importlib
from typing import Any

_REGISTERED: dict[str, Any] = {}
_PLUGINS = ("ember.rl",)


def register_trainable(name: str, trainable: Any) -> None:
    """Make ``Tuner(name, ...)`` run ``trainable``.

    Args:
        name: a non-empty string; registering a name again replaces its trainable.
        trainable: anything ``Tuner`` takes as a trainable (a function, a trainer or a
            class with ``train()``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_trainable(name=...) must be a non-empty string, got {name!r}")
    _REGISTERED[name] = trainable


def resolve_trainable(trainable: Any) -> Any:
    """A registered name's trainable; an object's ``as_trainable()`` (e.g. a PPOConfig);
    anything else as it is."""
    if isinstance(trainable, str):
        if trainable not in _REGISTERED:
            for plugin in _PLUGINS:
                try:
                    importlib.import_module(plugin)
                except ImportError:
                    continue
        if trainable not in _REGISTERED:
            raise ValueError(f"Tuner(trainable={trainable!r}): no trainable registered under "
                             f"that name; registered: {sorted(_REGISTERED) or 'none'}")
        return _REGISTERED[trainable]
    as_trainable = getattr(trainable, "as_trainable", None)
    if callable(as_trainable) and not isinstance(trainable, type):
        return as_trainable()
    return trainable
