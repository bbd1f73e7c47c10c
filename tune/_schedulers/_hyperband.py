"""``HyperBandScheduler``: synchronous successive halving in brackets (Li et al., 2017).

With ``s_max = floor(log_eta(max_t))``, bracket ``s`` (s_max, s_max-1, ..., 0, then
again) holds ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` trials that start with
``r = max_t / eta**s`` units of ``time_attr``::

    bracket s=2 (max_t=9, eta=3):  9 trials ──t=1──▶ keep 3 ──t=3──▶ keep 1 ──t=9──▶ STOP
                                   each arrow: PAUSE at the milestone until every live
                                   trial of the bracket is there, then keep the best
                                   floor(m / eta) (at least 1) and STOP the others

Trials fill the open bracket as they are added; a bracket closes when full or at its
first halving, and later trials open the next one. Losers that are PAUSED are handed to
the tuner through ``pop_trials_to_stop``; winners are resumed by ``choose_trial_to_run``.
"""

from __future__ import annotations

import math
from typing import Any

from .._trial import PAUSED, PENDING, Trial
from ._base import CONTINUE, PAUSE, STOP, TrialScheduler, check_positive


def bracket_sizes(max_t: float, eta: float) -> list[tuple[int, float]]:
    """``[(n, r), ...]`` for brackets s = s_max..0: trials and first milestone.
    ``bracket_sizes(81, 3)`` → (81, 1), (34, 3), (15, 9), (8, 27), (5, 81)."""
    s_max = 0
    while eta ** (s_max + 1) <= max_t:
        s_max += 1
    return [
        (math.ceil((s_max + 1) / (s + 1) * eta**s), max_t / eta**s)
        for s in range(s_max, -1, -1)
    ]


class _Band:
    """One bracket: its trials, its milestones and the scores at the current one."""

    def __init__(self, capacity: int, r: float, eta: float, max_t: float) -> None:
        self.capacity = capacity
        self.milestones = []
        while r < max_t and not math.isclose(r, max_t):
            self.milestones.append(r)
            r *= eta
        self.trials: list[Trial] = []
        self.round = 0  # index of the milestone being run to
        self.scores: dict[str, float] = {}  # trial_id -> score at the current milestone
        self.closed = False

    @property
    def milestone(self) -> float | None:
        return self.milestones[self.round] if self.round < len(self.milestones) else None

    def live(self) -> list[Trial]:
        return [t for t in self.trials if not t.is_finished]


class HyperBandScheduler(TrialScheduler):
    """Synchronous HyperBand: bracketed successive halving with pauses.

    Args:
        time_attr: the result key that measures progress.
        metric / mode: what to compare; default to ``TuneConfig(metric=, mode=)``.
        max_t: the most ``time_attr`` a trial gets; trials stop there.
        reduction_factor: ``eta``; 1 of every ``eta`` trials survives each halving.
        stop_last_trials: stop trials at ``max_t`` (False lets the survivors run on).

    Example::

        HyperBandScheduler(metric="acc", mode="max", max_t=27, reduction_factor=3)
    """

    requires_metric = True

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 81,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
    ) -> None:
        super().__init__(metric, mode)
        check_positive("HyperBandScheduler", "max_t", max_t)
        check_positive("HyperBandScheduler", "reduction_factor", reduction_factor, 1)
        self._time_attr = time_attr
        self._max_t = max_t
        self._eta = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._sizes = bracket_sizes(max_t, reduction_factor)
        self._bands: list[_Band] = []
        self._band_of: dict[str, _Band] = {}
        self._to_resume: set[str] = set()
        self._to_stop: list[Trial] = []

    def on_trial_add(self, trials: list[Trial], trial: Trial) -> None:
        band = self._bands[-1] if self._bands else None
        if band is None or band.closed or len(band.trials) >= band.capacity:
            n, r = self._sizes[len(self._bands) % len(self._sizes)]
            band = _Band(n, r, self._eta, self._max_t)
            self._bands.append(band)
        band.trials.append(trial)
        self._band_of[trial.trial_id] = band

    def on_trial_result(self, trials: list[Trial], trial: Trial, result: dict[str, Any]) -> str:
        score, t = self._score(result), result.get(self._time_attr)
        band = self._band_of.get(trial.trial_id)
        if score is None or t is None or band is None:
            return CONTINUE
        if t >= self._max_t and self._stop_last_trials:
            return STOP
        if band.milestone is None or t < band.milestone:
            return CONTINUE
        band.scores[trial.trial_id] = score
        decisions = self._halve_if_ready(band, reporting=trial.trial_id)
        return decisions.get(trial.trial_id, PAUSE)  # not ready: wait for the band

    def _halve_if_ready(self, band: _Band, reporting: str | None = None) -> dict[str, str]:
        """When every live trial of the band reached the milestone: keep the best
        ``max(1, floor(m / eta))``, stop the rest. Returns trial_id -> decision; the
        others (PAUSED, waiting) are queued to resume or to stop."""
        live = band.live()
        if any(t.trial_id not in band.scores for t in live) or not band.scores:
            return {}
        band.closed = True
        ranked = sorted(live, key=lambda t: band.scores[t.trial_id], reverse=True)
        keep = max(1, math.floor(len(ranked) / self._eta))
        decisions = {t.trial_id: CONTINUE for t in ranked[:keep]}
        decisions.update({t.trial_id: STOP for t in ranked[keep:]})
        for t in ranked:
            if t.trial_id == reporting:
                continue  # it gets its decision as on_trial_result's answer
            if decisions[t.trial_id] == CONTINUE:
                self._to_resume.add(t.trial_id)
            else:
                self._to_stop.append(t)
        band.round += 1
        band.scores = {}
        return decisions

    def _forget(self, trial: Trial) -> None:
        band = self._band_of.get(trial.trial_id)
        self._to_resume.discard(trial.trial_id)
        if band is not None:
            band.scores.pop(trial.trial_id, None)
            if trial in band.trials:  # its status may not say finished yet
                band.trials.remove(trial)
            # The band may have been waiting only for this trial.
            if band.milestone is not None:
                self._halve_if_ready(band)

    def on_trial_complete(
        self, trials: list[Trial], trial: Trial, result: dict[str, Any] | None
    ) -> None:
        self._forget(trial)

    def on_trial_remove(self, trials: list[Trial], trial: Trial) -> None:
        self._forget(trial)

    def choose_trial_to_run(self, trials: list[Trial]) -> Trial | None:
        """PENDING trials first, then PAUSED winners of a halving; never a trial still
        waiting for its band.

        Args:
            trials: every Trial of the experiment.
        """
        for trial in trials:
            if trial.status == PENDING:
                return trial
        for trial in trials:
            # A winner whose PAUSE the tuner has not applied yet waits for it.
            if trial.trial_id in self._to_resume and trial.status == PAUSED:
                self._to_resume.discard(trial.trial_id)
                return trial
        return None

    def pop_trials_to_stop(self) -> list[Trial]:
        stop = [t for t in self._to_stop if not t.is_finished]
        self._to_stop = []
        return stop

    def debug_string(self) -> str:
        bands = ", ".join(
            f"[{len(b.live())}/{b.capacity} live, milestone {b.milestone}]" for b in self._bands
        )
        return f"Using HyperBand: {len(self._bands)} brackets {bands}"
