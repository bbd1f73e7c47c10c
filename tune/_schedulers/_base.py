"""``TrialScheduler``: the plugin that decides, per result, whether a trial goes on.

Call order (the tuner drives it; ``trials`` is a list of every Trial of the experiment)::

    set_search_properties(metric, mode)            once, with TuneConfig's values
    on_trial_add(trials, trial)                    a new trial exists (PENDING)
    choose_trial_to_run(trials) -> Trial | None    a slot is free: start/resume whom?
    on_trial_result(trials, trial, result)         per report -> CONTINUE | PAUSE | STOP
    pop_trials_to_stop() -> [Trial]                after each hook: paused trials to end
    on_trial_complete(trials, trial, result)       a trial finished (or was stopped)
    on_trial_remove(trials, trial)                 a trial failed or was removed

A scheduler is pure: it reads trials and results and returns decisions; the tuner owns
status changes. Only PBT writes to a trial (``config`` and ``restore_from``).
"""

from __future__ import annotations

import math
from typing import Any

from .._trial import PAUSED, PENDING, Trial

CONTINUE = "CONTINUE"
PAUSE = "PAUSE"
STOP = "STOP"


def check_mode(mode: str | None, owner: str) -> None:
    if mode not in (None, "min", "max"):
        raise ValueError(f'{owner}(mode={mode!r}): mode must be "min" or "max"')


def check_positive(owner: str, name: str, value: Any, minimum: float = 0.0) -> None:
    """Raise unless ``value`` is a number > ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > minimum:
        raise ValueError(f"{owner}({name}={value!r}): {name} must be a number > {minimum:g}")


class TrialScheduler:
    """Base class: FIFO behaviour. Subclasses override ``on_trial_result`` and, when
    they keep per-trial state, the add/complete/remove hooks."""

    CONTINUE = CONTINUE
    PAUSE = PAUSE
    STOP = STOP

    requires_metric = False
    """True when the scheduler compares trials and so needs ``metric`` and ``mode``."""

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        check_mode(mode, type(self).__name__)
        self._metric = metric
        self._mode = mode

    @property
    def metric(self) -> str | None:
        return self._metric

    @property
    def mode(self) -> str | None:
        return self._mode

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take ``TuneConfig(metric=, mode=)``. Returns False when they contradict the
        scheduler's own; raises when a scheduler that needs them has neither."""
        check_mode(mode, "TuneConfig")
        if (self._metric and metric and metric != self._metric) or (
            self._mode and mode and mode != self._mode
        ):
            return False
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self._check_metric_mode()
        return True

    def _check_metric_mode(self) -> None:
        if self.requires_metric and (self._metric is None or self._mode is None):
            name = type(self).__name__
            raise ValueError(
                f"{name} needs metric and mode: pass {name}(metric=..., mode=...) or "
                'TuneConfig(metric=..., mode="max" or "min")'
            )

    def _score(self, result: dict[str, Any]) -> float | None:
        """The result's metric, larger is better; NaN is the worst; None if missing."""
        self._check_metric_mode()
        value = result.get(self._metric or "")
        if value is None or isinstance(value, bool):
            return None
        value = float(value)
        if math.isnan(value):
            return -math.inf
        return value if self._mode == "max" else -value

    def on_trial_add(self, trials: list[Trial], trial: Trial) -> None:
        """A new trial was created (before it starts).

        Args:
            trials: every Trial of the experiment.
            trial: the trial concerned.
        """

    def on_trial_result(self, trials: list[Trial], trial: Trial, result: dict[str, Any]) -> str:
        """Decide on a running trial's new result: CONTINUE, PAUSE or STOP.

        Args:
            trials: every Trial of the experiment.
            trial: the trial concerned.
            result: the metrics dict it just reported.
        """
        return CONTINUE

    def on_trial_complete(
        self, trials: list[Trial], trial: Trial, result: dict[str, Any] | None
    ) -> None:
        """The trial ended normally (its function returned, or it was stopped).

        Args:
            trials: every Trial of the experiment.
            trial: the trial concerned.
            result: its last result, or None if it reported none.
        """

    def on_trial_remove(self, trials: list[Trial], trial: Trial) -> None:
        """The trial errored or was removed; forget it.

        Args:
            trials: every Trial of the experiment.
            trial: the trial concerned.
        """

    def choose_trial_to_run(self, trials: list[Trial]) -> Trial | None:
        """The trial to start or resume in a free slot: first PENDING, then PAUSED.

        Args:
            trials: every Trial of the experiment.
        """
        for status in (PENDING, PAUSED):
            for trial in trials:
                if trial.status == status:
                    return trial
        return None

    def pop_trials_to_stop(self) -> list[Trial]:
        """PAUSED trials the scheduler decided to end while another trial reported
        (HyperBand's losers). The tuner terminates them; the list is then cleared."""
        return []

    def debug_string(self) -> str:
        """One line for the live trial table."""
        return f"Using {type(self).__name__}."
