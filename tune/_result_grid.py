"""``ResultGrid``: one ``Result`` per trial, with best-result and dataframe helpers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ember.train import Result

from ._trial import flat_config


class TrialFailedError(RuntimeError):
    """A trial's failure, rebuilt from the experiment state (the traceback is the message)."""


class ResultGrid:
    """The results of a ``Tuner.fit()``: ``len``, iteration, indexing, ``get_best_result``,
    ``get_dataframe`` and ``errors``.

    Args:
        results: one ``Result`` per trial.
        metric: the default metric of ``get_best_result`` (TuneConfig's).
        mode: the default mode, ``"min"`` or ``"max"``.
        path: the experiment's folder (``experiment_path``).
    """

    def __init__(self, results: list[Result], metric: str | None, mode: str | None,
                 path: str):
        self._results = results
        self._metric = metric
        self._mode = mode
        self.experiment_path = path

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __getitem__(self, index: int) -> Result:
        return self._results[index]

    @property
    def errors(self) -> list[BaseException]:
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    @property
    def num_terminated(self) -> int:
        return len(self._results) - self.num_errors

    def get_best_result(self, metric: str | None = None, mode: str | None = None,
                        scope: str = "last", filter_nan_and_inf: bool = True) -> Result:
        """The trial best by ``metric`` (default: TuneConfig's), judged on its last result
        (``scope="last"``), its best one (``"all"``), or the mean of its last results
        (``"avg"``, ``"last-5-avg"``, ``"last-10-avg"``).

        Args:
            metric: the result key to compare (default: TuneConfig's ``metric``).
            mode: ``"min"`` or ``"max"`` (default: TuneConfig's ``mode``).
            scope: ``"last"``, ``"all"``, ``"avg"`` (mean of all its results),
                ``"last-5-avg"`` or ``"last-10-avg"`` (mean of its last 5 or 10).
            filter_nan_and_inf: ignore NaN and infinite values (default True).

        Raises:
            ValueError: without a metric and mode, or on an unknown ``scope``.
            RuntimeError: when no trial reported ``metric``.
        """
        metric = metric or self._metric
        mode = mode or self._mode
        if metric is None or mode not in ("max", "min"):
            raise ValueError("get_best_result needs metric= and mode='max'|'min' (or set them "
                             "in TuneConfig)")
        if scope not in ("last", "all", "avg", "last-5-avg", "last-10-avg"):
            raise ValueError("get_best_result(scope=...) must be 'last', 'all', 'avg', "
                             f"'last-5-avg' or 'last-10-avg', got {scope!r}")
        sign = 1.0 if mode == "max" else -1.0
        best, best_score = None, -math.inf
        for result in self._results:
            score = _score(result, metric, scope, filter_nan_and_inf, sign)
            if score is not None and sign * score > best_score:
                best, best_score = result, sign * score
        if best is None:
            raise RuntimeError(f"no trial reported {metric!r}; reported metrics: "
                               f"{sorted({k for r in self._results for k in (r.metrics or {})})}")
        return best

    def get_dataframe(self, filter_metric: str | None = None,
                      filter_mode: str | None = None) -> Any:
        """One row per trial: its last result (or its best by ``filter_metric``) and its
        config as ``config/<key>`` columns, plus ``logdir``.

        Args:
            filter_metric: pick each trial's best result by this key instead of its last
                (default None: the last result).
            filter_mode: ``"min"`` or ``"max"`` for ``filter_metric`` (anything but
                ``"min"`` maximizes).
        """
        import pandas as pd

        rows = []
        for result in self._results:
            chosen = result.metrics or {}
            if filter_metric is not None and result.metrics_history:
                sign = 1.0 if filter_mode != "min" else -1.0
                scored = [r for r in result.metrics_history if _number(r.get(filter_metric)) is not None]
                if scored:
                    chosen = max(scored, key=lambda r: sign * float(r[filter_metric]))
            rows.append({**chosen, **flat_config(result.config, "config/"), "logdir": result.path})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"ResultGrid({len(self)} trials, {self.num_errors} errors)"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _score(result: Result, metric: str, scope: str, finite_only: bool,
           sign: float) -> float | None:
    """The trial's value of ``metric`` under ``scope`` (None when it never reported it)."""
    history = [v for v in (_number(r.get(metric)) for r in result.metrics_history) if v is not None]
    if finite_only:
        history = [v for v in history if math.isfinite(v)]
    if not history:
        return None
    if scope == "last":
        last = _number((result.metrics or {}).get(metric))
        return last if last is not None and (math.isfinite(last) or not finite_only) else None
    if scope == "all":
        return max(history, key=lambda value: sign * value)
    window = {"avg": len(history), "last-5-avg": 5, "last-10-avg": 10}[scope]
    tail = history[-window:]
    return sum(tail) / len(tail)
