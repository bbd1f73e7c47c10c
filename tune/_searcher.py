"""``Searcher``: the plugin that proposes configs, and ``BasicVariantGenerator``, the
built-in random/grid searcher that teaches the whole protocol.

Call order (the tuner drives it)::

    set_search_properties(metric, mode, param_space)   once, before anything else
    suggest(trial_id) -> config | None                 per new trial; None = exhausted
    on_trial_result(trial_id, result)                  per report (optional hook)
    on_trial_complete(trial_id, result, error)         once per trial (optional hook)
    save(path) / restore(path)                         experiment checkpoint / resume
"""

from __future__ import annotations

import random
from typing import Any

import cloudpickle

from ._search_space import expand_grids, generate_variants, is_grid, resolve


def check_mode(mode: str | None, owner: str) -> None:
    """Raise if ``mode`` is neither None, "min" nor "max"."""
    if mode not in (None, "min", "max"):
        raise ValueError(f'{owner}(mode={mode!r}): mode must be "min" or "max"')


class Searcher:
    """Base class: override ``suggest``; the other hooks are optional.

    ``metric``/``mode`` given to the constructor win; ``TuneConfig(metric=, mode=)``
    fills them in through ``set_search_properties``.
    """

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        check_mode(mode, type(self).__name__)
        self.metric = metric
        self.mode = mode

    def set_search_properties(
        self, metric: str | None, mode: str | None, param_space: dict[str, Any] | None
    ) -> bool:
        """Take the tuner's metric, mode and param_space. Returns False when they cannot
        be used (e.g. the searcher already has its own space): the tuner then raises.

        Args:
            metric: ``TuneConfig(metric=)``; fills in the searcher's own when it has none.
            mode: ``TuneConfig(mode=)``, ``"min"``, ``"max"`` or None; same rule.
            param_space: the Tuner's ``param_space`` (None or empty when it has none).
        """
        check_mode(mode, "TuneConfig")
        self.metric = self.metric or metric
        self.mode = self.mode or mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The config for a new trial, or None when the searcher has no more configs.

        Args:
            trial_id: the id of the trial the config is for.
        """
        raise NotImplementedError

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """An intermediate result of a suggested trial.

        Args:
            trial_id: the trial's id, as given to ``suggest``.
            result: the metrics dict it reported.
        """

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """A suggested trial ended: ``result`` is its last result, ``error`` tells failure.

        Args:
            trial_id: the trial's id, as given to ``suggest``.
            result: its last result (default None: it reported none).
            error: True when the trial failed.
        """

    def get_state(self) -> dict[str, Any]:
        """What ``save`` stores; by default the instance's attributes."""
        return dict(self.__dict__)

    def set_state(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def save(self, path: str) -> None:
        """Write the searcher's state to ``path`` (cloudpickle: spaces may hold lambdas)."""
        with open(path, "wb") as f:
            cloudpickle.dump(self.get_state(), f)

    def restore(self, path: str) -> None:
        """Read back what ``save`` wrote: suggestions continue where they stopped."""
        with open(path, "rb") as f:
            self.set_state(cloudpickle.load(f))


class BasicVariantGenerator(Searcher):
    """Random and grid search: every grid combination, ``num_samples`` times, random
    domains drawn from ``random.Random(seed)``.

    ``points_to_evaluate`` (partial configs) come first, each completed from the space,
    and count towards ``num_samples`` as in Ray.

    Example::

        gen = BasicVariantGenerator({"lr": loguniform(1e-4, 1e-1)}, num_samples=4, seed=0)
        configs = [gen.suggest(str(i)) for i in range(4)]   # then suggest() -> None
    """

    def __init__(
        self,
        param_space: dict[str, Any] | None = None,
        num_samples: int = 1,
        seed: int | None = None,
        points_to_evaluate: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                f"BasicVariantGenerator(num_samples={num_samples!r}): must be an int >= 1"
            )
        if points_to_evaluate is not None and not (
            isinstance(points_to_evaluate, list)
            and all(isinstance(p, dict) for p in points_to_evaluate)
        ):
            raise TypeError(
                "BasicVariantGenerator(points_to_evaluate=...): must be a list of dicts"
            )
        self.param_space = param_space
        self.num_samples = num_samples
        self.points_to_evaluate = list(points_to_evaluate or [])
        self._rng = random.Random(seed)
        self._queue: list[dict[str, Any]] | None = None  # built at the first suggest

    def set_search_properties(
        self, metric: str | None, mode: str | None, param_space: dict[str, Any] | None
    ) -> bool:
        super().set_search_properties(metric, mode, param_space)
        if param_space:
            if self.param_space:
                return False  # two spaces: the tuner says which to drop
            self.param_space = param_space
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self._queue is None:
            self._queue = self._variants()
        return self._queue.pop(0) if self._queue else None

    def _variants(self) -> list[dict[str, Any]]:
        space = self.param_space or {}
        configs: list[dict[str, Any]] = []
        for point in self.points_to_evaluate:
            with_point = _overlay(space, point)
            configs.extend(resolve(s, self._rng) for s in expand_grids(with_point))
        remaining = self.num_samples - len(self.points_to_evaluate)
        if remaining > 0:
            configs.extend(generate_variants(space, remaining, self._rng))
        return configs

    def get_state(self) -> dict[str, Any]:
        if self._queue is None:
            self._queue = self._variants()
        # The space may hold lambdas and is not needed once the queue exists.
        return {"_queue": self._queue, "_rng": self._rng, "metric": self.metric,
                "mode": self.mode}


def _overlay(space: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """``space`` with the values of ``point`` in place; nested dicts merge key by key."""
    merged = dict(space)
    for key, value in point.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) \
                and not is_grid(merged[key]):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged
