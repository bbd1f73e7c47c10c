"""AlgorithmConfig: the settings every algorithm shares, set through RLlib-style builders.

    PPOConfig().environment("CartPole-v1")        # what to learn on
               .env_runners(num_env_runners=2)     # who samples, how much per call
               .training(lr=3e-4, gamma=0.99)      # the learner's settings
               .evaluation(evaluation_interval=5)  # greedy episodes every 5 iterations
               .debugging(seed=0)
               .build()                            # -> Algorithm

Each builder checks every value it is given at once and raises a ``ValueError`` that
names the setting, the bad value and what to use instead; an unknown keyword raises an
error that is both a ``TypeError`` and a ``ValueError`` and lists the valid ones.
Checks that need the whole configuration (minibatch larger than the batch, an env id
gymnasium does not know) run in ``validate()``, which ``build()`` calls.

Builders change the config and return it (as RLlib's do), so both chained calls and
``config.training(lr=...)`` on its own work; ``copy()`` gives an independent config.
``to_dict()`` is one flat dict of plain values (``"algo"`` names the algorithm), the
form ``Tuner(param_space=...)`` takes; ``from_dict()`` reads it back, also accepting
the section-nested form ``{"training": {...}}`` and RLlib's old key names.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ember.core import validation


class _NotProvided:
    """Default of every builder keyword: "leave this setting as it is"."""

    def __repr__(self) -> str:
        return "NotProvided"


NotProvided: Any = _NotProvided()


class UnknownSettingError(TypeError, ValueError):
    """A setting name the config does not have (a ``TypeError`` as Python's own unknown
    keyword error is, and a ``ValueError`` as every other bad setting is)."""


class SettingTypeError(TypeError, ValueError):
    """A setting of the wrong type (a ``TypeError``, and a ``ValueError`` as every other
    bad setting value is)."""


# Old RLlib names that still appear in users' configs -> the current names.
ALIASES = {
    "num_workers": "num_env_runners",
    "num_rollout_workers": "num_env_runners",
    "num_envs_per_worker": "num_envs_per_env_runner",
    "sgd_minibatch_size": "minibatch_size",
    "num_sgd_iter": "num_epochs",
    "lambda": "lambda_",
    "recreate_failed_env_runners": "restart_failed_env_runners",
    "recreate_failed_workers": "restart_failed_env_runners",
}


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, integer: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a number in the range."""
    validation.check_number(name, value, minimum=None if low_open else low,
                            above=low if low_open else None, maximum=high, integer=integer,
                            type_error=SettingTypeError)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SettingTypeError(f"{name} must be True or False, got {value!r}")


def _check_model(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise SettingTypeError(
            f"{name} must be a dict such as {{'fcnet_hiddens': [64, 64]}}, got {value!r}")
    validation.reject_unknown(name, value, ["fcnet_activation", "fcnet_hiddens",
                                            "vf_share_layers"],
                              noun="key", error=UnknownSettingError)
    hiddens = value.get("fcnet_hiddens", [64, 64])
    if not isinstance(hiddens, (list, tuple)) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hiddens):
        raise ValueError(f"{name}['fcnet_hiddens'] must be a list of positive ints, got {hiddens!r}")
    activation = value.get("fcnet_activation", "tanh")
    if activation not in ("tanh", "relu"):
        raise ValueError(f"{name}['fcnet_activation'] must be 'tanh' or 'relu', got {activation!r}")
    _check_bool(f"{name}['vf_share_layers']", value.get("vf_share_layers", False))


def _check_optional_positive(name: str, value: Any) -> None:
    if value is not None:
        check_number(name, value, low=0, low_open=True)


COMMON_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "num_env_runners": lambda n, v: check_number(n, v, low=0, integer=True),
    "num_envs_per_env_runner": lambda n, v: check_number(n, v, low=1, integer=True),
    "num_cpus_per_env_runner": lambda n, v: check_number(n, v, low=0),
    "restart_failed_env_runners": _check_bool,
    "max_num_env_runner_restarts": lambda n, v: check_number(n, v, low=0, integer=True),
    "lr": lambda n, v: check_number(n, v, low=0, low_open=True),
    "gamma": lambda n, v: check_number(n, v, low=0, high=1),
    "train_batch_size": lambda n, v: check_number(n, v, low=1, integer=True),
    "model": _check_model,
    "grad_clip": _check_optional_positive,
    "evaluation_duration": lambda n, v: check_number(n, v, low=1, integer=True),
    "metrics_num_episodes_for_smoothing": lambda n, v: check_number(n, v, low=1, integer=True),
    "min_sample_timesteps_per_iteration": lambda n, v: check_number(n, v, low=0, integer=True),
    "num_gpus": lambda n, v: check_number(n, v, low=0, high=0),
    "torch_num_threads": lambda n, v: v is None or check_number(n, v, low=1, integer=True),
}


def _check_env(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str) and not callable(value):
        raise ValueError(
            f"{name} must be a registered gymnasium id (e.g. 'CartPole-v1'), a gymnasium.Env "
            f"subclass or a function env_config -> env, got {value!r}")


def _check_fragment(name: str, value: Any) -> None:
    if value != "auto":
        check_number(name, value, low=1, integer=True)


def _check_vectorize(name: str, value: Any) -> None:
    if value not in ("SYNC", "ASYNC"):
        raise ValueError(f"{name} must be 'SYNC' or 'ASYNC' (gymnasium vector env), got {value!r}")


def _check_env_config(name: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise SettingTypeError(f"{name} must be a dict passed to the env's constructor, got {value!r}")


def _check_interval(name: str, value: Any) -> None:
    if value is not None:
        check_number(name, value, low=1, integer=True)


def _check_seed(name: str, value: Any) -> None:
    if value is not None:
        check_number(name, value, low=0, integer=True)


COMMON_CHECKS.update({
    "env": _check_env,
    "env_config": _check_env_config,
    "rollout_fragment_length": _check_fragment,
    "gym_env_vectorize_mode": _check_vectorize,
    "evaluation_interval": _check_interval,
    "seed": _check_seed,
})


@dataclass(eq=False)
class AlgorithmConfig:
    """Settings every algorithm has; ``PPOConfig`` and ``DQNConfig`` add their own."""

    algo_name: ClassVar[str] = ""
    """The registry name (``"PPO"``, ``"DQN"``): ``to_dict()["algo"]``."""
    checks: ClassVar[dict[str, Callable[[str, Any], None]]] = COMMON_CHECKS

    # environment()
    env: Any = None
    """A gymnasium id, a ``gymnasium.Env`` subclass (called as ``cls(env_config)``) or a
    creator function (called as ``creator(env_config)``)."""
    env_config: dict[str, Any] = field(default_factory=dict)
    """Passed to the env class or creator (to ``gymnasium.make(id, **env_config)`` for an id)."""
    # env_runners()
    num_env_runners: int = 0
    """Env-runner actors; 0 samples in the driver process (the fast path for cheap envs)."""
    num_envs_per_env_runner: int = 1
    """Envs each runner steps together as one gymnasium vector env."""
    rollout_fragment_length: int | str = "auto"
    """Steps per env per sample call; "auto" splits ``train_batch_size`` over all envs."""
    gym_env_vectorize_mode: str = "SYNC"
    """"SYNC" steps the envs in the runner's process; "ASYNC" gives each env a process
    (worth it only for slow envs)."""
    num_cpus_per_env_runner: float = 1
    """CPUs each runner actor holds."""
    restart_failed_env_runners: bool = True
    """Replace a runner whose env raised or returned NaN, and keep training; False makes
    ``train()`` raise the env's error at once."""
    max_num_env_runner_restarts: int = 1000
    """Runner restarts allowed over the algorithm's life before ``train()`` raises."""
    # training()
    lr: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor, in [0, 1]."""
    train_batch_size: int = 4000
    """Env steps per learner update (PPO) or transitions per SGD step (DQN)."""
    model: dict[str, Any] = field(default_factory=lambda: {"fcnet_hiddens": [64, 64]})
    """Network: ``fcnet_hiddens`` (layer sizes), ``fcnet_activation`` ("tanh"/"relu"),
    ``vf_share_layers`` (PPO: one trunk for policy and value)."""
    grad_clip: float | None = None
    """Clip the global gradient norm to this (None: no clipping)."""
    # evaluation()
    evaluation_interval: int | None = None
    """Run ``evaluate()`` every this many ``train()`` calls (None: never automatically)."""
    evaluation_duration: int = 10
    """Greedy episodes per evaluation."""
    # reporting()
    metrics_num_episodes_for_smoothing: int = 100
    """``episode_return_mean`` is the mean over this many last finished episodes."""
    min_sample_timesteps_per_iteration: int = 0
    """One ``train()`` runs training steps until at least this many env steps were sampled."""
    # debugging()
    seed: int | None = None
    """Seeds torch, the envs and exploration, so a run is repeatable."""
    # resources()
    num_gpus: float = 0
    """Only 0 (CPU learners) is supported."""
    torch_num_threads: int | None = 1
    """torch threads in the learner and each runner; 1 avoids thread spinning on small
    networks (None: leave torch's default)."""

    # ------------------------------------------------------------------ builders
    def environment(self, env: Any = NotProvided, *, env_config: Any = NotProvided,
                    **unknown: Any) -> AlgorithmConfig:
        """What to learn on: a gymnasium id, an Env class or a creator, and its config."""
        return self._set("environment", unknown, env=env, env_config=env_config)

    def env_runners(self, *, num_env_runners: Any = NotProvided,
                    num_envs_per_env_runner: Any = NotProvided,
                    rollout_fragment_length: Any = NotProvided,
                    gym_env_vectorize_mode: Any = NotProvided,
                    num_cpus_per_env_runner: Any = NotProvided,
                    restart_failed_env_runners: Any = NotProvided,
                    max_num_env_runner_restarts: Any = NotProvided,
                    **unknown: Any) -> AlgorithmConfig:
        """Who samples: runner actors (0: the driver), envs per runner, steps per call."""
        return self._set(
            "env_runners", unknown, num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            rollout_fragment_length=rollout_fragment_length,
            gym_env_vectorize_mode=gym_env_vectorize_mode,
            num_cpus_per_env_runner=num_cpus_per_env_runner,
            restart_failed_env_runners=restart_failed_env_runners,
            max_num_env_runner_restarts=max_num_env_runner_restarts)

    def training(self, *, lr: Any = NotProvided, gamma: Any = NotProvided,
                 train_batch_size: Any = NotProvided, model: Any = NotProvided,
                 grad_clip: Any = NotProvided, **unknown: Any) -> AlgorithmConfig:
        """The learner's settings (RLlib's names; subclasses add their algorithm's)."""
        return self._set("training", unknown, lr=lr, gamma=gamma,
                         train_batch_size=train_batch_size, model=model, grad_clip=grad_clip)

    def evaluation(self, *, evaluation_interval: Any = NotProvided,
                   evaluation_duration: Any = NotProvided, **unknown: Any) -> AlgorithmConfig:
        """Greedy evaluation episodes, every ``evaluation_interval`` iterations."""
        return self._set("evaluation", unknown, evaluation_interval=evaluation_interval,
                         evaluation_duration=evaluation_duration)

    def reporting(self, *, metrics_num_episodes_for_smoothing: Any = NotProvided,
                  min_sample_timesteps_per_iteration: Any = NotProvided,
                  **unknown: Any) -> AlgorithmConfig:
        """How metrics are smoothed and how much one ``train()`` call samples at least."""
        return self._set(
            "reporting", unknown,
            metrics_num_episodes_for_smoothing=metrics_num_episodes_for_smoothing,
            min_sample_timesteps_per_iteration=min_sample_timesteps_per_iteration)

    def debugging(self, *, seed: Any = NotProvided, **unknown: Any) -> AlgorithmConfig:
        """``seed`` makes runs repeatable."""
        return self._set("debugging", unknown, seed=seed)

    def resources(self, *, num_gpus: Any = NotProvided, torch_num_threads: Any = NotProvided,
                  **unknown: Any) -> AlgorithmConfig:
        """Learner resources (CPU only) and torch's thread count."""
        return self._set("resources", unknown, num_gpus=num_gpus,
                         torch_num_threads=torch_num_threads)

    def build(self) -> Any:
        """Validate the whole config and return a ready ``Algorithm``."""
        from ._algorithm import Algorithm

        return Algorithm(self)

    # ------------------------------------------------------------------ dict form
    def as_trainable(self) -> Any:
        """This config as a tune trainable: ``Tuner(config, param_space={...})`` runs an
        Algorithm per trial with these settings, overridden by the trial's."""
        from ._tune import trainable_for

        return trainable_for(self.algo_name, self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Every setting as one flat dict, plus ``"algo"``: the form tune's
        ``param_space`` takes (replace any value by a search space)."""
        return {"algo": self.algo_name, **{f.name: copy.deepcopy(getattr(self, f.name))
                                          for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, settings: Mapping[str, Any]) -> AlgorithmConfig:
        """A config from ``to_dict()``'s form; also takes ``{"training": {...}, ...}``
        sections and RLlib's old key names (``num_workers``, ``lambda``...)."""
        if not isinstance(settings, Mapping):
            raise TypeError(f"from_dict takes a dict of settings, got {settings!r}")
        config = cls()
        config.update_from_dict(settings)
        return config

    def update_from_dict(self, settings: Mapping[str, Any]) -> AlgorithmConfig:
        """Apply a (flat or section-nested) settings dict to this config."""
        sections = {"environment", "env_runners", "training", "evaluation", "reporting",
                    "debugging", "resources"}
        flat: dict[str, Any] = {}
        for key, value in settings.items():
            if key in sections and isinstance(value, Mapping):
                flat.update(value)
            elif key == "algo":
                if value not in (self.algo_name, None, ""):
                    raise ValueError(
                        f"settings are for algo={value!r} but this is a {type(self).__name__} "
                        f"({self.algo_name}); build it with that algorithm's config")
            else:
                flat[key] = value
        self._set("from_dict", {}, **{ALIASES.get(k, k): v for k, v in flat.items()})
        return self

    def copy(self) -> AlgorithmConfig:
        """An independent deep copy (the env class or creator itself is shared)."""
        clone = copy.copy(self)
        for f in dataclasses.fields(self):
            if f.name != "env":
                setattr(clone, f.name, copy.deepcopy(getattr(self, f.name)))
        return clone

    # ------------------------------------------------------------------ checks
    def _set(self, method: str, unknown: Mapping[str, Any], **values: Any) -> AlgorithmConfig:
        names = sorted(f.name for f in dataclasses.fields(self))
        renamed = {old: new for old, new in ALIASES.items() if old in unknown}
        if renamed:  # RLlib's old names: say the new one
            old, new = next(iter(renamed.items()))
            raise UnknownSettingError(
                f"{type(self).__name__}.{method}() has no setting {old!r} (RLlib's old name); "
                f"use {new!r}")
        validation.reject_unknown(f"{type(self).__name__}.{method}()", [*unknown, *values],
                                  names, noun="setting", error=UnknownSettingError)
        for name, value in values.items():
            if value is NotProvided:
                continue
            if name == "model" and isinstance(value, Mapping):
                value = {**self.model, **value}  # as RLlib: update the model dict
            check = self.checks.get(name)
            if check is not None:
                check(name, value)
            setattr(self, name, copy.deepcopy(value) if isinstance(value, (dict, list)) else value)
        return self

    def validate(self) -> None:
        """Checks across settings and of the env; ``build()`` calls this."""
        for f in dataclasses.fields(self):  # values assigned directly as attributes too
            check = self.checks.get(f.name)
            if check is not None:
                check(f.name, getattr(self, f.name))
        if self.env is None:
            raise ValueError(
                f"no env set: call {type(self).__name__}().environment('CartPole-v1') "
                "(a gymnasium id, an Env class or a creator function)")
        if isinstance(self.env, str):
            import gymnasium

            if self.env not in gymnasium.envs.registry:
                close = [name for name in gymnasium.envs.registry
                         if name.lower().startswith(self.env.lower().split("-")[0][:4])][:5]
                hint = f"; similar ids: {', '.join(close)}" if close else ""
                raise ValueError(
                    f"env={self.env!r} is not a registered gymnasium id{hint}; register it "
                    "with gymnasium.register or pass the Env class or a creator function")

    def fragment_length(self) -> int:
        """Steps per env per sample call, with "auto" resolved."""
        if self.rollout_fragment_length != "auto":
            return int(self.rollout_fragment_length)
        envs = self.num_envs_per_env_runner * max(1, self.num_env_runners)
        return max(1, math.ceil(self.train_batch_size / envs))

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != getattr(type(self)(), f.name)]
        return f"{type(self).__name__}({', '.join(changed)})"

