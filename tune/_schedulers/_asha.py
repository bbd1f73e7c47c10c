"""``ASHAScheduler``: asynchronous successive halving (Li et al., 2018).

Rungs sit at ``grace_period * reduction_factor**k`` (<= max_t). When a trial first
reaches a rung, it is compared with the results recorded at that rung so far: below the
top ``1/reduction_factor`` quantile it stops, otherwise it goes on. No trial ever waits
for another, which is what makes it asynchronous::

    t:     1      4      16     64    (grace_period=1, reduction_factor=4, max_t=100)
    rung:  r0 ──▶ r1 ──▶ r2 ──▶ r3 ──▶ max_t: STOP
           each rung: score < quantile(recorded, 1 - 1/rf) → STOP
"""

from __future__ import annotations

from typing import Any

from .._trial import Trial
from ._base import CONTINUE, STOP, TrialScheduler, check_positive


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default): ``quantile([1, 2, 3, 4], 0.75)``
    is 3.25."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Bracket:
    """One successive-halving bracket: rungs and the scores recorded at each."""

    def __init__(self, grace_period: float, max_t: float, rf: float, s: int) -> None:
        self.rf = rf
        self.rungs: list[tuple[float, dict[str, float]]] = []  # (milestone, id -> score)
        k = s
        while grace_period * rf**k <= max_t:
            self.rungs.append((grace_period * rf**k, {}))
            k += 1
        self.rungs.reverse()  # highest first: a result is judged at the top rung it reached

    def cutoff(self, recorded: dict[str, float]) -> float | None:
        return quantile(list(recorded.values()), 1 - 1 / self.rf) if recorded else None

    def on_result(self, trial_id: str, t: float, score: float) -> str:
        for milestone, recorded in self.rungs:
            if t < milestone or trial_id in recorded:
                continue
            cutoff = self.cutoff(recorded)
            recorded[trial_id] = score
            return STOP if cutoff is not None and score < cutoff else CONTINUE
        return CONTINUE


class ASHAScheduler(TrialScheduler):
    """Stop poor trials early, at rungs, without waiting for other trials.

    Args:
        time_attr: the result key that measures progress (monotonically increasing).
        metric / mode: what to compare; default to ``TuneConfig(metric=, mode=)``.
        max_t: trials stop when ``time_attr`` reaches it.
        grace_period: the first rung; no trial stops before it.
        reduction_factor: 1 of every ``reduction_factor`` trials passes each rung.
        brackets: brackets shift the first rung by powers of ``reduction_factor``;
            trials are assigned to them round-robin.
        stop_last_trials: stop trials at ``max_t`` (False lets them run on).

    Example::

        ASHAScheduler(metric="loss", mode="min", max_t=20, grace_period=2)
    """

    requires_metric = True

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
    ) -> None:
        super().__init__(metric, mode)
        check_positive("ASHAScheduler", "max_t", max_t)
        check_positive("ASHAScheduler", "grace_period", grace_period)
        check_positive("ASHAScheduler", "reduction_factor", reduction_factor, 1)
        if grace_period > max_t:
            raise ValueError(
                f"ASHAScheduler(grace_period={grace_period!r}, max_t={max_t!r}): "
                "grace_period must be <= max_t"
            )
        if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"ASHAScheduler(brackets={brackets!r}): must be an int >= 1")
        self._time_attr = time_attr
        self._max_t = max_t
        self._stop_last_trials = stop_last_trials
        self._brackets = [
            _Bracket(grace_period, max_t, reduction_factor, s) for s in range(brackets)
        ]
        self._trial_bracket: dict[str, _Bracket] = {}
        self._num_added = 0
        self._num_stopped = 0

    def on_trial_add(self, trials: list[Trial], trial: Trial) -> None:
        self._trial_bracket[trial.trial_id] = self._brackets[
            self._num_added % len(self._brackets)
        ]
        self._num_added += 1

    def on_trial_result(self, trials: list[Trial], trial: Trial, result: dict[str, Any]) -> str:
        score = self._score(result)
        t = result.get(self._time_attr)
        if score is None or t is None:
            return CONTINUE
        if t >= self._max_t and self._stop_last_trials:
            decision = STOP
        else:
            bracket = self._bracket(trial)
            decision = bracket.on_result(trial.trial_id, t, score)
        self._num_stopped += decision == STOP
        return decision

    def on_trial_complete(
        self, trials: list[Trial], trial: Trial, result: dict[str, Any] | None
    ) -> None:
        # A finished trial's last result still counts at the rungs it reached.
        score = self._score(result) if result else None
        if score is not None and result and self._time_attr in result:
            self._bracket(trial).on_result(trial.trial_id, result[self._time_attr], score)
        self._trial_bracket.pop(trial.trial_id, None)

    def on_trial_remove(self, trials: list[Trial], trial: Trial) -> None:
        self._trial_bracket.pop(trial.trial_id, None)

    def _bracket(self, trial: Trial) -> _Bracket:
        if trial.trial_id not in self._trial_bracket:  # the tuner skipped on_trial_add
            self.on_trial_add([], trial)
        return self._trial_bracket[trial.trial_id]

    def debug_string(self) -> str:
        rungs = "; ".join(
            "Bracket: " + ", ".join(f"Iter {m:g}: {len(rec)} recorded" for m, rec in b.rungs)
            for b in self._brackets
        )
        return f"Using AsyncHyperBand: num_stopped={self._num_stopped}. {rungs}"
