"""``TuneConfig``: what to search and how (the metric, how many trials, which searcher and
scheduler), checked when built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember.core import validation


@validation.suggest_keywords
@dataclass(frozen=True)
class TuneConfig:
    """How a ``Tuner`` searches.

    Example::

        TuneConfig(metric="accuracy", mode="max", num_samples=20,
                   search_alg=OptunaSearch(), scheduler=ASHAScheduler(max_t=10))
    """

    metric: str | None = None
    """The reported result key to optimize; the default metric of the scheduler, the
    searcher and ``ResultGrid.get_best_result``. Set together with ``mode``."""
    mode: str | None = None
    """``"min"`` or ``"max"``: whether lower or higher ``metric`` is better."""
    num_samples: int = 1
    """Trials to run (x the grid's size with the built-in searcher); -1: until
    ``time_budget_s`` or the searcher runs out."""
    max_concurrent_trials: int | None = None
    """At most this many trials at once (default: as many as the resources allow)."""
    search_alg: Any = None
    """The searcher proposing configs, e.g. ``OptunaSearch()`` (default: the built-in
    random/grid searcher over the Tuner's ``param_space``)."""
    scheduler: Any = None
    """The trial scheduler, e.g. ``ASHAScheduler()`` (default: ``FIFOScheduler()``)."""
    time_budget_s: float | None = None
    """Seconds (> 0) after which the experiment stops (default: no limit)."""
    reuse_actors: bool = False
    """Accepted for Ray compatibility; each trial gets a fresh actor (they start in ms)."""
    seed: int | None = None
    """Seed of the built-in random/grid searcher."""

    def __post_init__(self) -> None:
        validation.check_choice("TuneConfig(mode=...)", self.mode, ("max", "min", None))
        if self.metric is not None and (not isinstance(self.metric, str) or not self.metric):
            raise ValueError(f"TuneConfig(metric=...) must be a metric name, got {self.metric!r}")
        if (self.metric is None) != (self.mode is None):
            raise ValueError("TuneConfig needs metric and mode together (e.g. metric='loss', "
                             f"mode='min'), got metric={self.metric!r}, mode={self.mode!r}")
        samples = self.num_samples
        if isinstance(samples, bool) or not isinstance(samples, int) or samples == 0 or samples < -1:
            raise ValueError(f"TuneConfig(num_samples=...) must be an int >= 1 or -1, got {samples!r}")
        if self.max_concurrent_trials is not None:
            validation.check_number("TuneConfig(max_concurrent_trials=...)",
                                    self.max_concurrent_trials, minimum=1, integer=True,
                                    type_error=ValueError)
        budget = self.time_budget_s
        if budget is not None:
            validation.check_number("TuneConfig(time_budget_s=...) (seconds)", budget, above=0,
                                    type_error=ValueError)
        if samples == -1 and budget is None:
            raise ValueError("TuneConfig(num_samples=-1) runs until time_budget_s: set it too")
