"""Stoppers: when a trial, or the whole experiment, should stop regardless of scheduler.

``RunConfig(stop=...)`` accepts a dict of criteria, a function or a ``Stopper``;
``coerce_stopper`` turns each into a ``Stopper``. ``TuneConfig(time_budget_s=)`` becomes
a ``TimeoutStopper``; the tuner asks, after every result::

    stopper(trial_id, result)  → stop this trial?
    stopper.stop_all()         → stop every trial and end the experiment?
"""

from __future__ import annotations

import datetime
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any


class Stopper:
    """Base class: override ``__call__``; ``stop_all`` is optional.

    Example::

        class StopOnNaN(Stopper):
            def __call__(self, trial_id, result):
                return result["loss"] != result["loss"]
    """

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """True stops the trial that reported ``result``."""
        raise NotImplementedError

    def stop_all(self) -> bool:
        """True ends the whole experiment."""
        return False


class NoopStopper(Stopper):
    """Never stops anything (``RunConfig(stop=None)``)."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False


class DictStopper(Stopper):
    """Stop a trial when any ``result[key] >= value`` (Ray's dict criteria):
    ``{"training_iteration": 10, "mean_accuracy": 0.98}``."""

    def __init__(self, criteria: Mapping[str, float]) -> None:
        for key, value in criteria.items():
            if not isinstance(key, str) or isinstance(value, bool) \
                    or not isinstance(value, (int, float)):
                raise TypeError(
                    f"RunConfig(stop={dict(criteria)!r}): each criterion must map a result "
                    f"key to a number, got {key!r}: {value!r}"
                )
        self.criteria = dict(criteria)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        for key, value in self.criteria.items():
            if key not in result:
                raise ValueError(
                    f"RunConfig(stop=...): the stop criterion {key!r} is not in the "
                    f"trial's result (keys: {sorted(result)}); report it or fix the key"
                )
            if result[key] >= value:
                return True
        return False


class FunctionStopper(Stopper):
    """Stop a trial when ``fn(trial_id, result)`` is true."""

    def __init__(self, fn: Callable[[str, dict[str, Any]], bool]) -> None:
        self.fn = fn

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return bool(self.fn(trial_id, result))


class TimeoutStopper(Stopper):
    """End the experiment once ``timeout_s`` have passed (``TuneConfig(time_budget_s=)``).

    The clock starts at construction; ``clock`` is injectable for tests. A pickled
    stopper keeps its remaining budget (for experiment resume).
    """

    def __init__(
        self,
        timeout_s: float | datetime.timedelta,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(timeout_s, datetime.timedelta):
            timeout_s = timeout_s.total_seconds()
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) \
                or timeout_s <= 0:
            raise ValueError(
                f"time_budget_s={timeout_s!r}: must be a number of seconds > 0 "
                "(or a datetime.timedelta)"
            )
        self.timeout_s = float(timeout_s)
        self._clock = clock
        self._start = clock()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def remaining_s(self) -> float:
        return self.timeout_s - (self._clock() - self._start)

    def stop_all(self) -> bool:
        return self.remaining_s() <= 0

    def __getstate__(self) -> dict[str, Any]:
        # Clock readings mean nothing in another process: store the budget left.
        state = dict(self.__dict__)
        state["timeout_s"] = max(self.remaining_s(), 0.0)
        del state["_start"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start = self._clock()


class CombinedStopper(Stopper):
    """Stop when any of ``stoppers`` says so; every stopper sees every result."""

    def __init__(self, *stoppers: Stopper) -> None:
        for stopper in stoppers:
            if not isinstance(stopper, Stopper):
                raise TypeError(
                    f"CombinedStopper({stopper!r}): each argument must be a Stopper"
                )
        self.stoppers = stoppers

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        decisions = [stopper(trial_id, result) for stopper in self.stoppers]
        return any(decisions)

    def stop_all(self) -> bool:
        decisions = [stopper.stop_all() for stopper in self.stoppers]  # every stopper is asked
        return any(decisions)


def coerce_stopper(stop: Any) -> Stopper:
    """The ``Stopper`` for a ``RunConfig(stop=...)`` value: None, a dict of criteria,
    a function ``(trial_id, result) -> bool`` or a ``Stopper``.

    Raises:
        TypeError: for anything else, naming ``RunConfig(stop=...)``.
    """
    if stop is None:
        return NoopStopper()
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, type) and issubclass(stop, Stopper):
        raise TypeError(
            f"RunConfig(stop={stop.__name__}): pass an instance, e.g. stop={stop.__name__}()"
        )
    if isinstance(stop, Mapping):
        return DictStopper(stop)
    if callable(stop):
        try:
            inspect.signature(stop).bind("trial_id", {})
        except TypeError as e:
            raise TypeError(
                f"RunConfig(stop={stop!r}): a stop function is called as "
                "fn(trial_id, result) and must accept those two arguments"
            ) from e
        except ValueError:  # no signature (some builtins): trust it
            pass
        return FunctionStopper(stop)
    raise TypeError(
        f"RunConfig(stop={stop!r}): expected a dict such as {{'training_iteration': 10}}, "
        "a function (trial_id, result) -> bool, or a Stopper instance"
    )
