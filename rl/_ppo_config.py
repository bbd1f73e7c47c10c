"""PPOConfig: Proximal Policy Optimization's settings (RLlib's names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ._config import (
    COMMON_CHECKS,
    AlgorithmConfig,
    NotProvided,
    _check_bool,
    check_number,
)


def _check_optional_clip(name: str, value: Any) -> None:
    if value is not None:
        check_number(name, value, low=0, low_open=True)


PPO_CHECKS = {
    **COMMON_CHECKS,
    "lambda_": lambda n, v: check_number(n, v, low=0, high=1),
    "clip_param": lambda n, v: check_number(n, v, low=0, low_open=True),
    "vf_clip_param": _check_optional_clip,
    "vf_loss_coeff": lambda n, v: check_number(n, v, low=0),
    "entropy_coeff": lambda n, v: check_number(n, v, low=0),
    "minibatch_size": lambda n, v: check_number(n, v, low=1, integer=True),
    "num_epochs": lambda n, v: check_number(n, v, low=1, integer=True),
    "use_kl_loss": _check_bool,
    "kl_coeff": lambda n, v: check_number(n, v, low=0),
    "kl_target": lambda n, v: check_number(n, v, low=0, low_open=True),
    "normalize_advantages": _check_bool,
}


@dataclass(eq=False, repr=False)
class PPOConfig(AlgorithmConfig):
    """Settings of PPO (clipped surrogate objective, GAE advantages).

    Example::

        from ember.rl import PPOConfig
        algo = (PPOConfig().environment("CartPole-v1")
                .training(lr=3e-4, train_batch_size=2000, minibatch_size=250, num_epochs=10)
                .build())
        for _ in range(10):
            print(algo.train()["episode_return_mean"])

    The fields below the class docstring are PPO's own settings; the shared ones,
    usually set through the builders:

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
        lr: Adam learning rate (default 3e-4).
        gamma: discount factor, in [0, 1] (default 0.99).
        evaluation_interval / evaluation_duration: run ``evaluate()`` every this many
            ``train()`` calls (default None: never), with this many greedy episodes
            (default 10).
        metrics_num_episodes_for_smoothing: ``episode_return_mean`` averages this many
            last episodes (default 100).
        model: network settings, ``fcnet_hiddens`` (default [64, 64]),
            ``fcnet_activation`` ("tanh"/"relu"), ``vf_share_layers``.
        min_sample_timesteps_per_iteration: one ``train()`` samples at least this many
            env steps (default 0: one training step).
        seed: seeds torch, the envs and exploration (default None: unseeded).
        num_gpus: only 0 (CPU learner) is supported.
        torch_num_threads: torch threads in the learner and each runner (default 1;
            None: torch's default).
    """

    algo_name: ClassVar[str] = "PPO"
    checks: ClassVar[dict[str, Any]] = PPO_CHECKS

    train_batch_size: int = 2000
    """Env steps sampled per iteration; the learner makes ``num_epochs`` passes over them."""
    lambda_: float = 0.95
    """GAE lambda, in [0, 1]: 0 is one-step TD advantages, 1 Monte-Carlo returns."""
    clip_param: float = 0.2
    """PPO's ratio clip: the policy ratio is kept within [1 - clip, 1 + clip]."""
    vf_clip_param: float | None = 10.0
    """Clip a value prediction's change to this (None: no value clipping)."""
    vf_loss_coeff: float = 0.5
    """Weight of the value loss in the total loss."""
    entropy_coeff: float = 0.0
    """Weight of the entropy bonus (subtracted from the loss)."""
    minibatch_size: int = 128
    """Steps per SGD minibatch; must not exceed ``train_batch_size``."""
    num_epochs: int = 8
    """Passes over each batch."""
    use_kl_loss: bool = False
    """Add ``kl_coeff * KL(old || new)`` to the loss, adapting kl_coeff toward kl_target."""
    kl_coeff: float = 0.2
    """Initial weight of the KL penalty (with ``use_kl_loss``)."""
    kl_target: float = 0.01
    """KL the adaptive coefficient steers toward."""
    normalize_advantages: bool = True
    """Standardize advantages per minibatch (zero mean, unit std)."""
    grad_clip: float | None = 0.5
    """Clip the global gradient norm to this (None: no clipping)."""

    def training(self, *, lambda_: Any = NotProvided, clip_param: Any = NotProvided,
                 vf_clip_param: Any = NotProvided, vf_loss_coeff: Any = NotProvided,
                 entropy_coeff: Any = NotProvided, minibatch_size: Any = NotProvided,
                 num_epochs: Any = NotProvided, use_kl_loss: Any = NotProvided,
                 kl_coeff: Any = NotProvided, kl_target: Any = NotProvided,
                 normalize_advantages: Any = NotProvided, **common: Any) -> PPOConfig:
        """PPO's settings plus the common ones (``lr``, ``gamma``, ``train_batch_size``,
        ``model``, ``grad_clip``); each left out keeps its value.

        Args:
            lambda_: GAE lambda, in [0, 1].
            clip_param: the policy ratio is clipped to [1 - clip_param, 1 + clip_param].
            vf_clip_param: clip a value prediction's change to this (None: no clipping).
            vf_loss_coeff: weight of the value loss.
            entropy_coeff: weight of the entropy bonus.
            minibatch_size: steps per SGD minibatch (at most ``train_batch_size``).
            num_epochs: passes over each batch.
            use_kl_loss: add an adaptive KL penalty to the loss.
            kl_coeff: initial weight of the KL penalty.
            kl_target: KL the adaptive coefficient steers toward.
            normalize_advantages: standardize advantages per minibatch.
        """
        self._set("training", {}, lambda_=lambda_, clip_param=clip_param,
                  vf_clip_param=vf_clip_param, vf_loss_coeff=vf_loss_coeff,
                  entropy_coeff=entropy_coeff, minibatch_size=minibatch_size,
                  num_epochs=num_epochs, use_kl_loss=use_kl_loss, kl_coeff=kl_coeff,
                  kl_target=kl_target, normalize_advantages=normalize_advantages)
        super().training(**common)
        return self

    def validate(self) -> None:
        super().validate()
        if self.minibatch_size > self.train_batch_size:
            raise ValueError(
                f"minibatch_size={self.minibatch_size} is larger than train_batch_size="
                f"{self.train_batch_size}; lower minibatch_size or raise train_batch_size")
