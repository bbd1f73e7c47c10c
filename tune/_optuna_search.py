"""``OptunaSearch``: any optuna sampler (TPE by default) proposes configs, via ask/tell.

    Ember space ──to_distributions──▶ {"train_loop_config/lr": FloatDistribution(log=True)}
    suggest(id)  ──study.ask(dists)──▶ optuna trial ──params by path──▶ config
    on_trial_complete(id, result)  ──study.tell(trial, result[metric] | FAIL)

optuna is imported when an ``OptunaSearch`` is built, so ``import ember`` stays light.
"""

from __future__ import annotations

import math
import numbers
import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._search_space import (
    Choice,
    Domain,
    LogUniform,
    Path,
    QUniform,
    RandInt,
    SampleFrom,
    Uniform,
    get_path,
    is_grid,
    resolve,
    walk,
)
from ._searcher import Searcher

if TYPE_CHECKING:
    import optuna


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as e:
        raise ImportError(
            'OptunaSearch needs optuna: pip install "ember[tune]" (or pip install optuna)'
        ) from e
    return optuna


def _name(path: Path) -> str:
    return "/".join(str(key) for key in path)


def _primitive(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def to_distribution(domain: Any, path: Path) -> Any:
    """The optuna distribution for one Ember domain (an optuna distribution passes)."""
    dists = _import_optuna().distributions
    if isinstance(domain, dists.BaseDistribution):
        return domain
    if isinstance(domain, QUniform):
        # optuna's grid starts at low and needs (high - low) to be a multiple of step.
        low, step = Decimal(str(domain.lower)), Decimal(str(domain.q))
        steps = int((Decimal(str(domain.upper)) - low) / step)
        return dists.FloatDistribution(domain.lower, float(low + steps * step), step=domain.q)
    if isinstance(domain, LogUniform):
        return dists.FloatDistribution(domain.lower, domain.upper, log=True)
    if isinstance(domain, Uniform):
        return dists.FloatDistribution(domain.lower, domain.upper)
    if isinstance(domain, RandInt):
        return dists.IntDistribution(domain.lower, domain.upper - 1)
    if isinstance(domain, Choice):
        # optuna stores only plain values; other categories are asked for by index.
        if all(_primitive(c) for c in domain.categories):
            return dists.CategoricalDistribution(domain.categories)
        return dists.CategoricalDistribution(list(range(len(domain.categories))))
    raise TypeError(f"OptunaSearch: cannot search {_name(path)}={domain!r}")


class OptunaSearch(Searcher):
    """Search with optuna: ``OptunaSearch(sampler=optuna.samplers.TPESampler(seed=0))``.

    Args:
        space: an Ember param space (nested dicts allowed); None takes the Tuner's
            ``param_space``. Nested names are flattened with "/" for optuna.
        metric / mode: what to optimize; default to ``TuneConfig(metric=, mode=)``.
        points_to_evaluate: configs to try first (``study.enqueue_trial``).
        sampler: any ``optuna.samplers.BaseSampler``; default TPE seeded with ``seed``.
        seed: seeds the default sampler and ``sample_from`` values.

    Raises:
        ValueError: on ``grid_search`` in the space (use ``choice()``, or the built-in
            searcher for a grid), or a bad ``mode``.
    """

    def __init__(
        self,
        space: dict[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
        sampler: optuna.samplers.BaseSampler | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(metric, mode)
        optuna = _import_optuna()
        if sampler is not None and not isinstance(sampler, optuna.samplers.BaseSampler):
            raise TypeError(
                f"OptunaSearch(sampler={sampler!r}): pass an optuna sampler instance, "
                "e.g. optuna.samplers.TPESampler(seed=0)"
            )
        if sampler is not None and seed is not None:
            raise ValueError(
                "OptunaSearch(sampler=..., seed=...): seed only seeds the default sampler; "
                "seed your sampler instead, e.g. TPESampler(seed=0)"
            )
        if points_to_evaluate is not None and not (
            isinstance(points_to_evaluate, list)
            and all(isinstance(p, dict) for p in points_to_evaluate)
        ):
            raise TypeError("OptunaSearch(points_to_evaluate=...): must be a list of dicts")
        self._sampler = sampler or optuna.samplers.TPESampler(seed=seed)
        self._rng = random.Random(seed)
        self._points = list(points_to_evaluate or [])
        self._space: dict[str, Any] | None = None
        self._distributions: dict[Path, Any] = {}
        self._study: Any = None
        self._ot_trials: dict[str, Any] = {}
        self._last_step: dict[str, int] = {}
        if space:
            self._set_space(space)

    def _set_space(self, space: dict[str, Any]) -> None:
        distributions = {}
        for path, leaf in walk(space):
            if is_grid(leaf):
                raise ValueError(
                    f"OptunaSearch does not support grid_search (at {_name(path)!r}): "
                    "use choice([...]) for optuna to pick from, or drop search_alg to "
                    "run the grid with the built-in searcher"
                )
            if isinstance(leaf, SampleFrom):
                continue  # resolved after optuna's values, from the rest of the config
            if isinstance(leaf, Domain) or _is_distribution(leaf):
                distributions[path] = to_distribution(leaf, path)
        self._space = space
        self._distributions = distributions

    def set_search_properties(
        self, metric: str | None, mode: str | None, param_space: dict[str, Any] | None
    ) -> bool:
        super().set_search_properties(metric, mode, param_space)
        if param_space:
            if self._space:
                return False  # a space here and in the Tuner: the tuner says which to drop
            self._set_space(param_space)
        return True

    def _ensure_study(self) -> Any:
        if self._study is not None:
            return self._study
        if self._space is None:
            raise ValueError(
                "OptunaSearch has no search space: pass OptunaSearch(space=...) or "
                "Tuner(param_space=...)"
            )
        if self.metric is None or self.mode is None:
            raise ValueError(
                "OptunaSearch needs metric and mode: pass OptunaSearch(metric=, mode=) "
                "or TuneConfig(metric=, mode=)"
            )
        optuna = _import_optuna()
        direction = "maximize" if self.mode == "max" else "minimize"
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trial table reports progress
        self._study = optuna.create_study(sampler=self._sampler, direction=direction)
        for point in self._points:
            self._study.enqueue_trial(self._flat_params(point))
        return self._study

    def _flat_params(self, point: dict[str, Any]) -> dict[str, Any]:
        """A point (nested, or with "/" names) as optuna params; categories that optuna
        cannot store are given by index. Keys not in the space are ignored."""
        params = {}
        for path in self._distributions:
            name = _name(path)
            try:
                value = point[name] if name in point else get_path(point, path)
            except (KeyError, IndexError, TypeError):
                continue  # not in this point: optuna's sampler picks it
            domain = get_path(self._space, path)
            if isinstance(domain, Choice) and not all(map(_primitive, domain.categories)):
                if value not in domain.categories:
                    raise ValueError(
                        f"OptunaSearch(points_to_evaluate=...): {name}={value!r} is not "
                        f"one of the choices {domain.categories!r}"
                    )
                value = domain.categories.index(value)
            params[name] = value
        return params

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        study = self._ensure_study()
        named = {_name(path): dist for path, dist in self._distributions.items()}
        ot_trial = study.ask(fixed_distributions=named)
        self._ot_trials[trial_id] = ot_trial
        fixed = {}
        for path in self._distributions:
            value = ot_trial.params[_name(path)]
            domain = get_path(self._space, path)
            if isinstance(domain, Choice) and not all(map(_primitive, domain.categories)):
                value = domain.categories[value]
            elif isinstance(domain, QUniform):
                value = round(value, 12)
            fixed[path] = value
        assert self._space is not None
        return resolve(self._space, self._rng, fixed)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Report intermediate values, so optuna pruners and samplers can use them.

        Args:
            trial_id: the trial's id, as given to ``suggest``.
            result: the metrics dict it reported; a finite ``metric`` value is reported
                to optuna at step ``training_iteration`` (an int).
        """
        ot_trial = self._ot_trials.get(trial_id)
        value, step = result.get(self.metric or ""), result.get("training_iteration")
        if ot_trial is None or not isinstance(step, int) or not _finite(value):
            return
        if step > self._last_step.get(trial_id, -1):  # optuna warns on a repeated step
            ot_trial.report(float(value), step)  # type: ignore[arg-type]
            self._last_step[trial_id] = step

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ot_trial = self._ot_trials.pop(trial_id, None)
        self._last_step.pop(trial_id, None)
        if ot_trial is None:
            return
        from optuna.trial import TrialState

        value = (result or {}).get(self.metric or "")
        if error or not _finite(value):
            self._study.tell(ot_trial, state=TrialState.FAIL)
        else:
            self._study.tell(ot_trial, float(value))  # type: ignore[arg-type]


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


def _is_distribution(leaf: Any) -> bool:
    module = type(leaf).__module__
    return module.startswith("optuna.") and hasattr(leaf, "_contains")
