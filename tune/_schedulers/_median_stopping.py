"""``MedianStoppingRule``: stop a trial whose best result so far is worse than the
median of the other trials' running means at the same time (Golovin et al., 2017,
Google Vizier)::

    at time t (>= grace_period), for trial T:
        others   = trials whose latest result has time_attr >= t
        median   = median(mean of each other's results in [grace_period, t])
        best(T) < median and len(others) >= min_samples_required → STOP (or PAUSE)
"""

from __future__ import annotations

import statistics
from typing import Any

from .._trial import PAUSED, PENDING, Trial
from ._base import CONTINUE, PAUSE, STOP, TrialScheduler


class MedianStoppingRule(TrialScheduler):
    """Stop trials that fall below the median of their peers.

    Args:
        time_attr: the result key that measures progress.
        metric / mode: what to compare; default to ``TuneConfig(metric=, mode=)``.
        grace_period: no trial is judged before ``time_attr`` reaches it.
        min_samples_required: how many other trials must have reached the same time.
        min_time_slice: with too few samples, a trial is paused (to let waiting trials
            catch up) at most once per ``min_time_slice``.
        hard_stop: STOP poor trials; False PAUSEs them instead.

    Example::

        MedianStoppingRule(metric="loss", mode="min", grace_period=5)
    """

    requires_metric = True

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        min_time_slice: float = 0,
        hard_stop: bool = True,
    ) -> None:
        super().__init__(metric, mode)
        for name, value in (("grace_period", grace_period), ("min_time_slice", min_time_slice)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"MedianStoppingRule({name}={value!r}): must be a number >= 0")
        if (
            isinstance(min_samples_required, bool)
            or not isinstance(min_samples_required, int)
            or min_samples_required < 1
        ):
            raise ValueError(
                f"MedianStoppingRule(min_samples_required={min_samples_required!r}): "
                "must be an int >= 1"
            )
        self._time_attr = time_attr
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        self._results: dict[str, list[tuple[float, float]]] = {}  # id -> [(t, score)]
        self._last_pause: dict[str, float] = {}
        self._stopped: set[str] = set()

    def on_trial_result(self, trials: list[Trial], trial: Trial, result: dict[str, Any]) -> str:
        score, t = self._score(result), result.get(self._time_attr)
        if score is None or t is None or trial.trial_id in self._stopped:
            return CONTINUE  # a soft-stopped (paused) trial that was resumed runs on
        self._results.setdefault(trial.trial_id, []).append((t, score))
        if t < self._grace_period:
            return CONTINUE
        others = [
            tid for tid, history in self._results.items()
            if tid != trial.trial_id and history[-1][0] >= t
        ]
        last_pause = self._last_pause.get(trial.trial_id, float("-inf"))
        if len(others) < self._min_samples_required:
            return self._on_insufficient_samples(trials, trial, t)
        median = statistics.median(self._running_mean(tid, t) for tid in others)
        best = max(s for _, s in self._results[trial.trial_id])
        if best < median and t > last_pause + self._min_time_slice:
            self._stopped.add(trial.trial_id)
            if self._hard_stop:
                return STOP
            self._last_pause[trial.trial_id] = t
            return PAUSE
        return CONTINUE

    def _running_mean(self, trial_id: str, t: float) -> float:
        scoped = [s for time, s in self._results[trial_id] if self._grace_period <= time <= t]
        return statistics.fmean(scoped) if scoped else float("-inf")

    def _on_insufficient_samples(self, trials: list[Trial], trial: Trial, t: float) -> str:
        """Too few peers to judge: pause to let waiting trials catch up, at most once
        per ``min_time_slice``."""
        waiting = any(
            other.status in (PENDING, PAUSED) for other in trials if other is not trial
        )
        last_pause = self._last_pause.get(trial.trial_id, 0.0)
        if waiting and t - last_pause > self._min_time_slice:
            self._last_pause[trial.trial_id] = t
            return PAUSE
        return CONTINUE

    def on_trial_complete(
        self, trials: list[Trial], trial: Trial, result: dict[str, Any] | None
    ) -> None:
        # A finished trial still counts as a peer; its results are kept.
        score = self._score(result) if result else None
        if score is not None and result and self._time_attr in result:
            history = self._results.setdefault(trial.trial_id, [])
            if not history or history[-1][0] != result[self._time_attr]:
                history.append((result[self._time_attr], score))

    def on_trial_remove(self, trials: list[Trial], trial: Trial) -> None:
        self._results.pop(trial.trial_id, None)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={len(self._stopped)}."
