"""How an Algorithm runs as a tune trial: ``Tuner("PPO" | PPOConfig(...), param_space=...)``.

tune builds a class trainable as ``cls(config)`` with the trial's resolved config; these
subclasses add the algorithm's name and the base settings a config object carried, so a
``param_space`` may hold just the settings being searched.
"""

from __future__ import annotations

from typing import Any

from ._algorithm import Algorithm


def trainable_for(algo: str, base: dict[str, Any] | None = None) -> type[Algorithm]:
    """A class trainable for ``algo`` whose trials start from ``base`` settings."""
    defaults = dict(base or {})

    class Trainable(Algorithm):
        def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any):
            super().__init__({**defaults, **(config or {})}, algo=algo, **kwargs)

    Trainable.__name__ = Trainable.__qualname__ = algo
    return Trainable


def register_with_tune() -> None:
    from ember import tune

    for name in ("PPO", "DQN"):
        tune.register_trainable(name, trainable_for(name))
