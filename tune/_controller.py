"""The tuning loop: ask the searcher for configs, start trials while resources allow,
take each result as it comes, let the stopper and scheduler decide, persist everything.

    searcher.suggest ─> Trial ─> TrialActor.run(trainable)          one actor per run
                                   │ report(result) waits for a decision
    controller <── exchange ───────┘
        result: auto-fields, persist, searcher / stopper / scheduler -> CONTINUE|PAUSE|STOP
        run ended: done -> TERMINATED, PAUSE -> PAUSED (resumed later from its checkpoint),
                   error -> retried from its checkpoint up to max_failures, then ERROR
                            (each failure in <trial_dir>/error.txt, the traceback printed once)
    experiment ended: "N of M trials errored" and a table of them
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ember.train import RunConfig
from ember.train.trial import CheckpointKeeper

import ember

from . import _trainable, _trial_errors
from ._progress import TrialTable
from ._state import ExperimentState
from ._trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial
from ._trial_actor import Event, TrialActor, TrialInfo

_RemoteTrialActor = ember.remote(TrialActor)
_EXCHANGE_S = 1.0
_TICK_S = 1.0
_STOP_GRACE_S = 10.0
CONTINUE, PAUSE, STOP = "CONTINUE", "PAUSE", "STOP"


@dataclass
class _Running:
    trial: Trial
    actor: Any
    run_ref: Any
    exchange_ref: Any
    resources: dict[str, float]
    last_result_at: float
    stop_sent_at: float | None = None


@dataclass
class Controller:
    trainable: Any
    experiment_name: str
    experiment_path: str
    metric: str | None
    mode: str | None
    searcher: Any
    scheduler: Any
    stopper: Any
    run_config: RunConfig
    max_trials: int | None
    max_concurrent: int | None
    trials: list[Trial] = field(default_factory=list)
    errors: dict[str, BaseException] = field(default_factory=dict)
    keepers: dict[str, CheckpointKeeper] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state = ExperimentState(self.experiment_path)
        self.running: dict[str, _Running] = {}
        self.to_stop: set[str] = set()
        self.searcher_done = False
        self.stop_everything = False
        self.table = TrialTable(self.run_config.verbose > 0, self.metric)
        for trial in self.trials:
            self.keepers[trial.trial_id] = CheckpointKeeper(
                self.run_config.checkpoint_config, trial.trial_dir)
            self.scheduler.on_trial_add(self.trials, trial)

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while True:
                self._start_trials()
                if not self.running:
                    break
                self._wait_and_handle()
                self._apply_scheduler_stops()
                self.table.update(self.trials)
            for trial in self.trials:  # paused, and no one will resume them now
                if trial.status in (PAUSED, PENDING) and trial.num_failures == 0:
                    self._finish(trial)
        finally:
            for running in list(self.running.values()):
                self._end_run(running)
            self.table.update(self.trials, force=True)
            self.table.close()
            self.state.close()
        errored = _trial_errors.error_table(self.trials)
        if errored:
            self.table.print_error("\n".join(errored))

    def _start_trials(self) -> None:
        while not self.stop_everything:
            if self.max_concurrent is not None and len(self.running) >= self.max_concurrent:
                return
            trial = self.scheduler.choose_trial_to_run(self.trials)
            if trial is None:
                trial = self._new_trial()
                if trial is None:
                    return
                continue  # the scheduler chooses among pending trials, this one included
            needs = _trainable.resources_of(self.trainable, trial.config)
            if not self._fits(needs):
                if not self.running:
                    raise ValueError(
                        f"a trial needs {needs} but the cluster has {ember.cluster_resources()}: "
                        "lower the trainable's resources (with_resources, ScalingConfig) or "
                        "start ember.init() with more")
                return
            self._start(trial, needs)

    def _new_trial(self) -> Trial | None:
        if self.searcher_done or (self.max_trials is not None and len(self.trials) >= self.max_trials):
            return None
        trial_id = f"{len(self.trials):05d}"
        config = self.searcher.suggest(trial_id)
        if config is None:
            self.searcher_done = True
            return None
        name = f"{_trainable.name_of(self.trainable)}_{trial_id}"
        trial = Trial(trial_id, config, trial_dir=os.path.join(self.experiment_path, name))
        self.trials.append(trial)
        self.keepers[trial_id] = CheckpointKeeper(self.run_config.checkpoint_config, trial.trial_dir)
        self.state.trial_added(trial)
        self.state.save_searcher(self.searcher)
        self.scheduler.on_trial_add(self.trials, trial)
        return trial

    def _fits(self, needs: dict[str, float]) -> bool:
        total = ember.cluster_resources()
        used: dict[str, float] = {}
        for running in self.running.values():
            for key, amount in running.resources.items():
                used[key] = used.get(key, 0.0) + amount
        return all(used.get(key, 0.0) + amount <= total.get(key, 0.0) + 1e-9
                   for key, amount in needs.items())

    def _start(self, trial: Trial, needs: dict[str, float]) -> None:
        checkpoint = trial.restore_from or trial.checkpoint
        trial.restore_from = None
        own = _trainable.actor_resources(self.trainable, trial.config)
        extra = {k: v for k, v in own.items() if k not in ("CPU", "GPU")}
        actor = _RemoteTrialActor.options(
            num_cpus=own.get("CPU", 0), num_gpus=own.get("GPU", 0), resources=extra,
            max_concurrency=2).remote()
        cfg = self.run_config.checkpoint_config
        info = TrialInfo(trial.trial_id, os.path.basename(trial.trial_dir), trial.trial_dir,
                         self.experiment_name, cfg.checkpoint_frequency, cfg.checkpoint_at_end)
        now = time.monotonic()
        self.running[trial.trial_id] = _Running(
            trial, actor, actor.run.remote(self.trainable, trial.config, info, checkpoint),
            actor.exchange.remote(None, _EXCHANGE_S), needs, now)
        trial.status = RUNNING
        self.state.status(trial)

    def _wait_and_handle(self) -> None:
        refs = {}
        for running in self.running.values():
            refs[running.exchange_ref] = (running, "exchange")
            refs[running.run_ref] = (running, "run")
        ready, _ = ember.wait(list(refs), num_returns=1, timeout=_TICK_S)
        for ref in ready:
            running, kind = refs[ref]
            if running.trial.trial_id not in self.running:
                continue
            if kind == "exchange":
                self._on_events(running)
            else:
                self._on_run_end(running)
        self._check_budget()

    # -- results ---------------------------------------------------------------------------------
    def _on_events(self, running: _Running) -> None:
        try:
            events: list[Event] = ember.get(running.exchange_ref)
        except Exception:  # noqa: BLE001 - the actor died: its run ref says how
            running.exchange_ref = None
            self._on_run_end(running)
            return
        decision = None
        for event in events:
            if event.kind == "result":
                decision = self._on_result(running, event)
            elif event.kind == "checkpoint" and event.checkpoint is not None:
                self._keep(running.trial, event.checkpoint, running.trial.last_result)
            elif event.kind == "end":  # no more events: another exchange would only wait
                running.exchange_ref = None
                self._on_run_end(running)
                return
        running.exchange_ref = running.actor.exchange.remote(decision, _EXCHANGE_S)

    def _on_result(self, running: _Running, event: Event) -> str:
        trial = running.trial
        now = time.monotonic()
        result = dict(event.metrics or {})
        previous_total = trial.last_result.get("time_total_s", 0.0) if trial.last_result else 0.0
        result.setdefault("training_iteration", len(trial.results) + 1)
        result["time_this_iter_s"] = now - running.last_result_at
        result["time_total_s"] = previous_total + result["time_this_iter_s"]
        result["trial_id"] = trial.trial_id
        result["timestamp"] = time.time()
        running.last_result_at = now
        if event.checkpoint is not None:  # recorded first: it is durable already
            self._keep(trial, event.checkpoint, result)
        trial.results.append(result)
        trial.last_result = result
        self.state.result(trial, result)
        self.searcher.on_trial_result(trial.trial_id, result)
        if self.stop_everything or trial.trial_id in self.to_stop \
                or self.stopper(trial.trial_id, result):
            decision = STOP
        else:
            decision = self.scheduler.on_trial_result(self.trials, trial, result)
        if self.stopper.stop_all():
            self.stop_everything = True
        if decision != CONTINUE:
            running.stop_sent_at = now
        return str(decision)

    def _keep(self, trial: Trial, checkpoint: Any, metrics: dict[str, Any]) -> None:
        trial.checkpoint = checkpoint
        self.keepers[trial.trial_id].register(checkpoint, metrics)
        self.state.checkpoint(trial, checkpoint, metrics)

    def _on_run_end(self, running: _Running) -> None:
        trial = running.trial
        if running.exchange_ref is not None:
            try:  # results reported just before the end are not lost
                for event in ember.get(running.exchange_ref, timeout=_EXCHANGE_S * 2):
                    if event.kind == "checkpoint" and event.checkpoint is not None:
                        self._keep(trial, event.checkpoint, trial.last_result)
            except Exception:  # noqa: BLE001,S110 - the actor is gone; its run ref says why
                pass
        try:
            outcome = ember.get(running.run_ref)
        except Exception as error:  # noqa: BLE001  the trainable raised or its process died
            self._end_run(running)
            self._on_failure(trial, error)
            return
        self._end_run(running)
        if outcome == PAUSE and trial.trial_id not in self.to_stop and not self.stop_everything:
            trial.status = PAUSED
            self.state.status(trial)
        else:
            self._finish(trial)

    def _finish(self, trial: Trial) -> None:
        trial.status = TERMINATED
        self.to_stop.discard(trial.trial_id)
        self.scheduler.on_trial_complete(self.trials, trial, trial.last_result)
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result or None, error=False)
        self.state.status(trial)

    def _apply_scheduler_stops(self) -> None:
        """End the trials the scheduler gave up on (HyperBand's losers)."""
        for trial in self.scheduler.pop_trials_to_stop():
            if trial.trial_id in self.running:
                self.to_stop.add(trial.trial_id)  # stops at its next report
            elif not trial.is_finished:
                self._finish(trial)

    def _on_failure(self, trial: Trial, error: BaseException) -> None:
        trial.num_failures += 1
        text = _trial_errors.error_text(error)
        _trial_errors.write_error_file(trial, text)
        allowed = self.run_config.failure_config.max_failures
        if not self.stop_everything and (allowed == -1 or trial.num_failures <= allowed):
            self.table.print_error(_trial_errors.retry_message(trial, text, allowed))
            trial.status = PENDING  # restarts from trial.checkpoint
            self.state.status(trial)
            return
        self.table.print_error(_trial_errors.failure_message(trial, text), finished=trial)
        trial.status = ERROR
        trial.error = text
        self.errors[trial.trial_id] = error
        self.scheduler.on_trial_remove(self.trials, trial)
        self.searcher.on_trial_complete(trial.trial_id, None, error=True)
        self.state.status(trial)

    def _end_run(self, running: _Running) -> None:
        self.running.pop(running.trial.trial_id, None)
        try:
            ember.kill(running.actor)
        except Exception:  # noqa: BLE001,S110 - already dead
            pass

    def _check_budget(self) -> None:
        if not self.stop_everything and self.stopper.stop_all():
            self.stop_everything = True
        if not self.stop_everything:
            return
        now = time.monotonic()
        for running in list(self.running.values()):
            if running.stop_sent_at is None:
                running.stop_sent_at = now
            elif now - running.stop_sent_at > _STOP_GRACE_S:  # a trial that never reports
                self._end_run(running)
                self._finish(running.trial)
