"""``Tuner``: run a trainable over a parameter space, as trials, and collect the results."""

from __future__ import annotations

import os
import time
from typing import Any

from ember.train import Result, RunConfig
from ember.train.trial import CheckpointKeeper

from . import _trainable
from ._controller import Controller
from ._registry import resolve_trainable
from ._result_grid import ResultGrid, TrialFailedError
from ._schedulers import FIFOScheduler
from ._search_space import generate_variants
from ._searcher import BasicVariantGenerator
from ._state import SEARCHER, load_trials, load_tuner, save_tuner
from ._stopper import CombinedStopper, TimeoutStopper, coerce_stopper
from ._trial import ERROR
from ._tune_config import TuneConfig


class Tuner:
    """Tune ``trainable`` over ``param_space``.

    Example::

        def objective(config):
            for step in range(10):
                ember.tune.report({"loss": (config["x"] - 3) ** 2 / (step + 1)})

        grid = Tuner(objective, param_space={"x": tune.uniform(0, 10)},
                     tune_config=TuneConfig(metric="loss", mode="min", num_samples=20,
                                            scheduler=ASHAScheduler(max_t=10))).fit()
        grid.get_best_result().config

    A ``TorchTrainer`` takes ``param_space={"train_loop_config": {...}}``.

    Args:
        trainable: a function ``f(config)`` calling ``tune.report``, a ``TorchTrainer``,
            a class with ``train()``/``save()``/``restore()`` (an rl Algorithm), an object
            with ``as_trainable()`` (e.g. a PPOConfig), a name given to
            ``register_trainable`` (e.g. ``"PPO"``), or any of these wrapped by
            ``with_resources``.
        param_space: a dict of constants, search-space domains (``uniform``,
            ``choice``, ...) and ``grid_search`` markers, nested dicts allowed (default:
            empty).
        tune_config: how to search (default: ``TuneConfig()``).
        run_config: the experiment's name, storage, stop condition and checkpoints
            (default: ``RunConfig()``).
    """

    def __init__(self, trainable: Any, *, param_space: dict[str, Any] | None = None,
                 tune_config: TuneConfig | None = None, run_config: RunConfig | None = None):
        trainable = resolve_trainable(trainable)
        _trainable.kind_of(trainable)  # a clear error for anything that is not a trainable
        if param_space is not None and not isinstance(param_space, dict):
            raise TypeError(f"Tuner(param_space=...) must be a dict, got {type(param_space).__name__}")
        if tune_config is not None and not isinstance(tune_config, TuneConfig):
            raise TypeError(f"Tuner(tune_config=...) must be a TuneConfig, got {tune_config!r}")
        if run_config is not None and not isinstance(run_config, RunConfig):
            raise TypeError(f"Tuner(run_config=...) must be a ember.tune.RunConfig, got {run_config!r}")
        self.trainable = trainable
        self.param_space = dict(param_space or {})
        self.tune_config = tune_config or TuneConfig()
        self.run_config = run_config or RunConfig()
        coerce_stopper(self.run_config.stop)  # checks it now
        self._restored: tuple[str, list[Any]] | None = None

    @classmethod
    def restore(cls, path: str, trainable: Any = None, **_: Any) -> Tuner:
        """Resume the experiment in ``path`` (``storage_path/name``): finished trials are
        kept as they are, unfinished ones continue from their latest checkpoint.

        Args:
            path: the experiment's local folder (or a ``file://`` URI).
            trainable: the trainable to run (default None: the one saved with the
                experiment).

        Other keyword arguments are accepted, for Ray compatibility, and ignored.
        """
        path = _local(path, "Tuner.restore(path=...)")
        saved = load_tuner(path)
        tuner = cls(trainable if trainable is not None else saved["trainable"],
                    param_space=saved["param_space"], tune_config=saved["tune_config"],
                    run_config=saved["run_config"])
        tuner._restored = (path, load_trials(path))
        return tuner

    @classmethod
    def can_restore(cls, path: str) -> bool:
        """Whether ``path`` holds an experiment that ``Tuner.restore`` can resume.

        Args:
            path: the experiment's local folder (``storage_path/name``).
        """
        return os.path.exists(os.path.join(_local(path, "path"), "tuner.pkl"))

    def fit(self) -> ResultGrid:
        """Run the experiment (or resume it, after ``Tuner.restore``) and return a
        ``ResultGrid`` with one ``Result`` per trial (a failed trial's ``error`` says
        why)."""
        config = self.tune_config
        if self._restored is not None:
            path, trials = self._restored
            name = os.path.basename(path)
        else:
            name = self.run_config.name or time.strftime(
                f"{_trainable.name_of(self.trainable)}_%Y-%m-%d_%H-%M-%S")
            path = os.path.join(_local(self.run_config.resolved_storage_path(),
                                       "RunConfig(storage_path=...)"), name)
            trials = []
        if self._restored is None:
            save_tuner(path, {"trainable": self.trainable, "param_space": self.param_space,
                              "tune_config": self.tune_config, "run_config": self.run_config})
        searcher, max_trials = self._searcher(path)
        scheduler = config.scheduler or FIFOScheduler()
        if not scheduler.set_search_properties(config.metric, config.mode):
            raise ValueError(
                f"TuneConfig(scheduler={type(scheduler).__name__}(...)) compares "
                f"{scheduler.metric!r} ({scheduler.mode}) but TuneConfig says {config.metric!r} "
                f"({config.mode}): set metric and mode in one place")
        stopper = coerce_stopper(self.run_config.stop)
        if config.time_budget_s is not None:
            stopper = CombinedStopper(stopper, TimeoutStopper(config.time_budget_s))
        controller = Controller(
            trainable=self.trainable, experiment_name=name, experiment_path=path,
            metric=config.metric, mode=config.mode, searcher=searcher, scheduler=scheduler,
            stopper=stopper, run_config=self.run_config, max_trials=max_trials,
            max_concurrent=config.max_concurrent_trials, trials=trials)
        controller.run()
        return ResultGrid([_result(trial, controller) for trial in controller.trials],
                          config.metric, config.mode, path)

    def _searcher(self, path: str) -> tuple[Any, int | None]:
        config = self.tune_config
        samples = None if config.num_samples == -1 else config.num_samples
        if config.search_alg is None:
            searcher: Any = (BasicVariantGenerator if samples else _Endless)(
                self.param_space, num_samples=samples or 1, seed=config.seed)
            max_trials = None
        else:
            searcher, max_trials = config.search_alg, samples
            if not searcher.set_search_properties(config.metric, config.mode, self.param_space):
                raise ValueError(
                    f"TuneConfig(search_alg={type(searcher).__name__}(...)) was given its own "
                    "search space (or metric/mode) and the Tuner another: give the space to "
                    "one of them (Tuner(param_space=...) or the searcher), not both")
        saved = os.path.join(path, SEARCHER)
        if self._restored is not None and os.path.exists(saved):
            try:
                searcher.restore(saved)
            except Exception as error:
                raise ValueError(
                    f"Tuner.restore: {saved} cannot be read back by {type(searcher).__name__} "
                    f"({type(error).__name__}: {error}); delete that file to go on with a "
                    "fresh searcher (finished trials are kept), or start the experiment again "
                    "with Tuner(...).fit()") from error
        return searcher, max_trials


class _Endless(BasicVariantGenerator):
    """``num_samples=-1``: the grid (with fresh random draws) again and again, until the
    time budget ends the experiment."""

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        config = super().suggest(trial_id)
        if config is None:
            self._queue = generate_variants(self.param_space or {}, 1, self._rng)
            config = super().suggest(trial_id)
        return config


def _result(trial: Any, controller: Controller) -> Result:
    error = controller.errors.get(trial.trial_id)
    if error is None and trial.status == ERROR:
        error = TrialFailedError(trial.error or "the trial failed")
    keeper: CheckpointKeeper = controller.keepers[trial.trial_id]
    return Result(metrics=trial.last_result or None, checkpoint=trial.checkpoint,
                  path=trial.trial_dir, error=error, metrics_history=list(trial.results),
                  best_checkpoints=keeper.best_checkpoints(), config=trial.config)


def _local(path: str, what: str) -> str:
    path = os.fspath(path)
    path = path.removeprefix("file://")
    if "://" in path:
        raise ValueError(f"{what}: tune keeps its experiment state in a local (or mounted) "
                         f"folder; got {path!r}")
    return os.path.abspath(os.path.expanduser(path))
