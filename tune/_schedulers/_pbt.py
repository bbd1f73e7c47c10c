"""``PopulationBasedTraining``: poor trials copy good ones, then mutate (Jaderberg et al.,
2017)::

    every perturbation_interval of time_attr, trial T reports score s:
        rank live trials by their latest score
        T in the bottom quantile_fraction → exploit a random top-quantile trial B:
            T.restore_from = B.checkpoint           (skipped if B has none)
            T.config       = explore(copy of B.config)
            → PAUSE: the tuner restarts T from restore_from with the new config
        otherwise → CONTINUE (PAUSE if other trials wait for a slot, to take turns)

``explore`` for each key of ``hyperparam_mutations``: with ``resample_probability`` a
fresh draw from the mutation (a list, a Domain or a function); else a list value moves
to a neighbouring element and a number is multiplied by a ``perturbation_factors`` entry.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from .._search_space import Choice, Domain, SampleFrom
from .._trial import PAUSED, PENDING, Trial
from ._base import CONTINUE, PAUSE, TrialScheduler, check_positive


def _draw(mutation: Any, rng: random.Random) -> Any:
    if isinstance(mutation, (list, tuple)):
        return rng.choice(list(mutation))
    if isinstance(mutation, SampleFrom):
        return mutation.sample(rng, {})
    if isinstance(mutation, Domain):
        return mutation.sample(rng)
    return mutation()  # a function, as Ray's lambda: np.random.uniform(...)


def explore(
    config: dict[str, Any],
    mutations: dict[str, Any],
    rng: random.Random,
    resample_probability: float,
    perturbation_factors: Sequence[float],
) -> dict[str, Any]:
    """A mutated copy of ``config``; nested dicts in ``mutations`` mutate nested keys."""
    new = copy.deepcopy(config)
    for key, mutation in mutations.items():
        if isinstance(mutation, dict):
            new[key] = explore(
                config.get(key, {}), mutation, rng, resample_probability, perturbation_factors
            )
            continue
        if isinstance(mutation, Choice):
            mutation = mutation.categories
        current = config.get(key)
        if isinstance(mutation, (list, tuple)):
            values = list(mutation)
            if rng.random() < resample_probability or current not in values:
                new[key] = rng.choice(values)
            else:  # shift to a neighbour, staying inside the list
                index = values.index(current) + rng.choice((-1, 1))
                new[key] = values[min(max(index, 0), len(values) - 1)]
        elif rng.random() < resample_probability or not isinstance(current, (int, float)):
            new[key] = _draw(mutation, rng)
        else:
            value = current * rng.choice(list(perturbation_factors))
            new[key] = int(value) if isinstance(current, int) else value
    return new


def fill_config(config: dict[str, Any], mutations: dict[str, Any], rng: random.Random) -> None:
    """Give ``config`` a value for every mutated key it lacks (drawn from the mutation)."""
    for key, mutation in mutations.items():
        if isinstance(mutation, dict):
            fill_config(config.setdefault(key, {}), mutation, rng)
        elif key not in config:
            config[key] = _draw(mutation.categories if isinstance(mutation, Choice)
                                else mutation, rng)


class PopulationBasedTraining(TrialScheduler):
    """Population based training: exploit good trials' checkpoints, explore their configs.

    Args:
        time_attr: the result key that measures progress.
        metric / mode: what to compare; default to ``TuneConfig(metric=, mode=)``.
        perturbation_interval: exploit/explore at most once per this much ``time_attr``.
        hyperparam_mutations: key -> list, Domain or function (nested dicts allowed).
        quantile_fraction: the top and bottom fractions of the population (<= 0.5).
        resample_probability: chance of a fresh draw instead of a perturbation.
        perturbation_factors: numbers are multiplied by one of these.
        custom_explore_fn: ``fn(config) -> config`` applied after the built-in explore.
        seed: seeds the choices, for reproducible runs.

    Example::

        PopulationBasedTraining(metric="acc", mode="max", perturbation_interval=4,
                                hyperparam_mutations={"lr": loguniform(1e-4, 1e-1)})
    """

    requires_metric = True

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_mutations: dict[str, Any] | None = None,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: tuple[float, float] = (1.2, 0.8),
        custom_explore_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric, mode)
        name = "PopulationBasedTraining"
        check_positive(name, "perturbation_interval", perturbation_interval)
        if not hyperparam_mutations and custom_explore_fn is None:
            raise ValueError(
                f"{name}: pass hyperparam_mutations={{'lr': loguniform(1e-4, 1e-1), ...}} "
                "or custom_explore_fn=..., or there is nothing to explore"
            )
        if hyperparam_mutations is not None and not isinstance(hyperparam_mutations, dict):
            raise TypeError(f"{name}(hyperparam_mutations=...): must be a dict")
        _check_mutations(hyperparam_mutations or {})
        if not 0 < quantile_fraction <= 0.5:
            raise ValueError(
                f"{name}(quantile_fraction={quantile_fraction!r}): must be in (0, 0.5]"
            )
        if not 0 <= resample_probability <= 1:
            raise ValueError(
                f"{name}(resample_probability={resample_probability!r}): must be in [0, 1]"
            )
        if not perturbation_factors or not all(
            isinstance(f, (int, float)) for f in perturbation_factors
        ):
            raise ValueError(
                f"{name}(perturbation_factors={perturbation_factors!r}): "
                "must be numbers, e.g. (1.2, 0.8)"
            )
        self._time_attr = time_attr
        self._interval = perturbation_interval
        self._mutations = hyperparam_mutations or {}
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._rng = random.Random(seed)
        self._last_score: dict[str, float] = {}
        self._last_perturbation: dict[str, float] = {}
        self.num_perturbations = 0

    def on_trial_add(self, trials: list[Trial], trial: Trial) -> None:
        fill_config(trial.config, self._mutations, self._rng)
        self._last_perturbation[trial.trial_id] = 0

    def on_trial_result(self, trials: list[Trial], trial: Trial, result: dict[str, Any]) -> str:
        score, t = self._score(result), result.get(self._time_attr)
        if score is None or t is None:
            return CONTINUE
        self._last_score[trial.trial_id] = score
        if t - self._last_perturbation.get(trial.trial_id, 0) < self._interval:
            return CONTINUE
        self._last_perturbation[trial.trial_id] = t
        lower, upper = self._quantiles(trials)
        if trial in lower:
            donor = self._rng.choice(upper)
            if donor.checkpoint is not None:
                self._exploit(trial, donor)
                return PAUSE
        waiting = any(o.status in (PENDING, PAUSED) for o in trials if o is not trial)
        return PAUSE if waiting else CONTINUE

    def _quantiles(self, trials: list[Trial]) -> tuple[list[Trial], list[Trial]]:
        """(bottom, top) of the live trials ranked by their latest score."""
        ranked = sorted(
            (t for t in trials if not t.is_finished and t.trial_id in self._last_score),
            key=lambda t: self._last_score[t.trial_id],
        )
        if len(ranked) <= 1:
            return [], []
        size = min(math.ceil(len(ranked) * self._quantile_fraction), len(ranked) // 2)
        return ranked[:size], ranked[-size:]

    def _exploit(self, trial: Trial, donor: Trial) -> None:
        config = explore(
            donor.config, self._mutations, self._rng, self._resample_probability, self._factors
        )
        if self._custom_explore_fn is not None:
            config = self._custom_explore_fn(config)
            if not isinstance(config, dict):
                raise TypeError(
                    "PopulationBasedTraining(custom_explore_fn=...): the function must "
                    f"return the new config dict, got {type(config).__name__}"
                )
        trial.config = config
        trial.restore_from = donor.checkpoint
        self._last_score[trial.trial_id] = self._last_score[donor.trial_id]
        self.num_perturbations += 1

    def on_trial_remove(self, trials: list[Trial], trial: Trial) -> None:
        self._last_score.pop(trial.trial_id, None)

    def on_trial_complete(
        self, trials: list[Trial], trial: Trial, result: dict[str, Any] | None
    ) -> None:
        self._last_score.pop(trial.trial_id, None)

    def debug_string(self) -> str:
        return f"PopulationBasedTraining: {self.num_perturbations} checkpoints restored."


def _check_mutations(mutations: dict[str, Any], prefix: str = "") -> None:
    for key, mutation in mutations.items():
        if isinstance(mutation, dict):
            _check_mutations(mutation, f"{prefix}{key}/")
        elif isinstance(mutation, (list, tuple)):
            if not mutation:
                raise ValueError(
                    f"PopulationBasedTraining(hyperparam_mutations=...): {prefix}{key} "
                    "is an empty list"
                )
        elif not (isinstance(mutation, Domain) or callable(mutation)):
            raise TypeError(
                f"PopulationBasedTraining(hyperparam_mutations=...): {prefix}{key}="
                f"{mutation!r} must be a list, a Domain such as uniform(0, 1), a function "
                "or a nested dict"
            )
