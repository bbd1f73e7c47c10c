"""The three kinds of trainable a trial can run, behind one small interface:

- a function ``f(config)`` that calls ``ember.tune.report(metrics, checkpoint=)``;
- a ``TorchTrainer`` (anything with ``run_trial(config)`` and ``trial_bundles()``, the
  protocol in ``ember.train.trial``): its workers are reserved by the trainer itself,
  after its datasets are split, and counted against the tuner's resources;
- a class with ``train() -> dict``, ``save(dir)``, ``restore(dir)``, ``stop()``, built as
  ``cls(config)`` (an rl Algorithm): each ``train()`` is one reported iteration.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ember.train import Checkpoint
from ember.train.trial import TrialSession, persist_checkpoint


class StopTrial(BaseException):
    """Raised inside a trial's ``report`` when the tuner stops or pauses it (a
    BaseException, so a trainable's ``except Exception`` does not swallow it)."""

    def __init__(self, decision: str):
        super().__init__(decision)
        self.decision = decision


@dataclass(frozen=True)
class WithResources:
    """A trainable with the resources each of its trials holds (``with_resources``)."""

    trainable: Any
    resources: Mapping[str, float] | Callable[[dict[str, Any]], Mapping[str, float]]


def with_resources(trainable: Any, resources: Any) -> WithResources:
    """``trainable`` whose trials each hold ``resources`` (e.g. ``{"cpu": 2, "gpu": 1}``,
    or a function of the trial's config returning such a dict).

    Args:
        trainable: the trainable to wrap (what ``Tuner`` takes).
        resources: a dict of resource name to amount >= 0 (``"cpu"``/``"gpu"`` in any
            case), or a function ``fn(config)`` returning one for each trial.
    """
    if not (callable(resources) or isinstance(resources, Mapping)):
        raise TypeError("with_resources(resources=...) takes a dict such as {'cpu': 1} or a "
                        f"function of the config returning one, got {resources!r}")
    if isinstance(resources, Mapping):
        _normalize(resources)
    return WithResources(trainable, resources)


def _normalize(resources: Mapping[str, float]) -> dict[str, float]:
    normalized = {}
    for key, amount in resources.items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"with_resources: {key!r} must be an amount >= 0, got {amount!r}")
        name = key.upper() if key.lower() in ("cpu", "gpu") else key
        if amount:
            normalized[name] = float(amount)
    return normalized


def kind_of(trainable: Any) -> str:
    if isinstance(trainable, WithResources):
        return kind_of(trainable.trainable)
    if hasattr(trainable, "run_trial") and hasattr(trainable, "trial_bundles"):
        return "trainer"
    if inspect.isclass(trainable) and callable(getattr(trainable, "train", None)):
        return "class"
    if callable(trainable):
        return "function"
    raise TypeError("Tuner(trainable=...) takes a function f(config), a TorchTrainer or a "
                    f"class with train()/save()/restore() (an rl Algorithm), got {trainable!r}")


def name_of(trainable: Any) -> str:
    inner = trainable.trainable if isinstance(trainable, WithResources) else trainable
    if kind_of(inner) == "trainer":
        return type(inner).__name__
    return getattr(inner, "__name__", type(inner).__name__)


def resources_of(trainable: Any, config: dict[str, Any]) -> dict[str, float]:
    """What one trial of ``trainable`` with ``config`` holds, summed over its bundles."""
    if isinstance(trainable, WithResources):
        chosen = trainable.resources
        return _normalize(chosen(config) if callable(chosen) else chosen)
    if kind_of(trainable) == "trainer":
        total: dict[str, float] = {}
        for bundle in trainable.trial_bundles(config):
            for key, amount in bundle.items():
                total[key] = total.get(key, 0.0) + amount
        return total
    return {"CPU": 1.0}


def actor_resources(trainable: Any, config: dict[str, Any]) -> dict[str, float]:
    """What the trial's own actor holds: everything, except for a trainer, whose workers
    hold the resources and whose trial actor only coordinates."""
    inner = trainable.trainable if isinstance(trainable, WithResources) else trainable
    if kind_of(inner) == "trainer":
        return {}
    return resources_of(trainable, config)


Deliver = Callable[[dict[str, Any], Checkpoint | None], str]
"""Hands one result (and its persisted checkpoint) to the tuner; returns its decision."""


def run(trainable: Any, config: dict[str, Any], session: TrialSession, deliver: Deliver,
        keep_checkpoint: Callable[[Checkpoint], None], checkpoint_frequency: int,
        checkpoint_at_end: bool) -> None:
    """Run one trial's trainable to its end (or until StopTrial)."""
    inner = trainable.trainable if isinstance(trainable, WithResources) else trainable
    kind = kind_of(inner)
    if kind == "trainer":
        inner.run_trial(config)
    elif kind == "class":
        _run_class(inner, config, session, deliver, keep_checkpoint, checkpoint_frequency,
                   checkpoint_at_end)
    else:
        inner(config)


def _run_class(cls: Any, config: dict[str, Any], session: TrialSession, deliver: Deliver,
               keep_checkpoint: Callable[[Checkpoint], None], frequency: int,
               at_end: bool) -> None:
    instance = cls(config)
    try:
        if session.checkpoint is not None:
            with session.checkpoint.as_directory() as folder:
                instance.restore(folder)
        iteration = 0
        while True:
            result = instance.train()
            iteration += 1
            saved = _save(instance, session) if frequency and iteration % frequency == 0 else None
            decision = deliver(dict(result), saved)
            if decision != "CONTINUE":
                if saved is None and at_end:
                    keep_checkpoint(_save(instance, session))
                raise StopTrial(decision)
    finally:
        stop = getattr(instance, "stop", None)
        if callable(stop):
            stop()


def _save(instance: Any, session: TrialSession) -> Checkpoint:
    with tempfile.TemporaryDirectory() as folder:
        instance.save(folder)
        return persist_checkpoint(Checkpoint.from_directory(folder), session.trial_dir)
