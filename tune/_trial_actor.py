"""``TrialActor``: the process one run of a trial lives in.

The trainable runs in one actor thread (``run``); each ``report`` there persists its
checkpoint, hands the result over and waits for the tuner's decision, which the tuner
sends with its next ``exchange`` call (another actor thread). So a trial never runs
ahead of the scheduler, and a stop lands exactly at a report.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

from ember.train import Checkpoint
from ember.train.trial import TrialSession, persist_checkpoint, set_trial_session

from . import _trainable
from ._trainable import StopTrial


@dataclass(frozen=True)
class TrialInfo:
    trial_id: str
    trial_name: str
    trial_dir: str
    experiment_name: str
    checkpoint_frequency: int
    checkpoint_at_end: bool


@dataclass(frozen=True)
class Event:
    kind: str  # "result" | "checkpoint" | "end"
    metrics: dict[str, Any] | None = None
    checkpoint: Checkpoint | None = None


class TrialActor:
    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.decisions: queue.Queue[str] = queue.Queue()
        self.info: TrialInfo | None = None

    def run(self, trainable: Any, config: dict[str, Any], info: TrialInfo,
            checkpoint: Checkpoint | None) -> str:
        """Run the trainable; "done" when it returned, else the decision that stopped it."""
        self.info = info
        session = TrialSession(info.trial_id, info.trial_name, info.trial_dir,
                               info.experiment_name, self._report, checkpoint)
        set_trial_session(session)
        try:
            _trainable.run(trainable, config, session, self._deliver, self._keep,
                           info.checkpoint_frequency, info.checkpoint_at_end)
            return "done"
        except StopTrial as stop:
            return stop.decision
        finally:
            set_trial_session(None)
            self.events.put(Event("end"))

    def exchange(self, decision: str | None, timeout: float) -> list[Event]:
        """Give the waiting report its ``decision`` (if any); then the events since, waiting
        up to ``timeout`` s for the first."""
        if decision is not None:
            self.decisions.put(decision)
        try:
            events = [self.events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    # -- inside the trainable's thread -------------------------------------------------------
    def _report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None) -> None:
        decision = self._deliver(metrics, checkpoint)
        if decision != "CONTINUE":
            raise StopTrial(decision)

    def _deliver(self, metrics: dict[str, Any], checkpoint: Checkpoint | None) -> str:
        assert self.info is not None
        if checkpoint is not None:
            checkpoint = persist_checkpoint(checkpoint, self.info.trial_dir)
        self.events.put(Event("result", dict(metrics), checkpoint))
        return self.decisions.get()

    def _keep(self, checkpoint: Checkpoint) -> None:
        self.events.put(Event("checkpoint", None, checkpoint))
