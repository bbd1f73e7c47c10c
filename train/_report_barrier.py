"""``report`` is a collective: report number n counts once every rank has made it.

    rank r: report(n) ─ stage checkpoint (rank 0) ─ queue Report ─ wait for release(n)
                                                        │
    driver: next_reports ──> ReportBarrier.arrive(r, ...)
            ReportBarrier.ready() -> rank 0's Report n, once all ranks made it
            commit n (rename the checkpoint, keep the metrics) ──> release(n) on every rank

So no rank returns from report n before all ranks made it, and what is committed (the
metrics, the latest checkpoint a restart resumes from) is what every rank reached: a
rank that dies stops the others at their next report instead of letting them run ahead.

This module is the pure bookkeeping (no processes, no clock of its own): the driver
feeds it what the workers sent and the time, and asks what to commit and who is late.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Report:
    """One rank's ``report``: the metrics (rank 0's are the run's) and, on rank 0, the
    number of the checkpoint it staged in storage (None when it reported none)."""

    metrics: dict[str, Any]
    checkpoint_index: int | None = None


@dataclass(frozen=True)
class Late:
    """Report number ``number`` is made by ``arrived`` but not yet by ``missing``,
    since ``waited_s`` seconds."""

    number: int
    arrived: list[int]
    missing: list[int]
    waited_s: float

    def describe(self) -> str:
        return (f"rank(s) {self.arrived} called ember.train.report() #{self.number} "
                f"{self.waited_s:.0f} s ago and wait for rank(s) {self.missing}; every rank "
                "must call report() the same number of times")


@dataclass
class ReportBarrier:
    """Which reports every rank has made; see the module docstring."""

    world_size: int
    committed: int = 0
    """Reports made by every rank (and handed out by ``ready``)."""
    queued: list[deque[Report]] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    """Ranks whose loop returned (they will make no more reports)."""
    round_started: float | None = None
    """When the first rank made report ``committed + 1``."""

    def __post_init__(self) -> None:
        if not self.queued:
            self.queued = [deque() for _ in range(self.world_size)]

    def arrive(self, rank: int, reports: list[Report], now: float) -> None:
        """``rank`` made ``reports`` (in order), seen by the driver at ``now``."""
        if reports and self.round_started is None:
            self.round_started = now
        self.queued[rank].extend(reports)

    def finish(self, rank: int) -> None:
        """``rank``'s loop returned normally; every report it made has arrived."""
        self.finished.add(rank)

    def ready(self, now: float) -> list[Report]:
        """Rank 0's report of each round every rank has now made, oldest first."""
        complete = []
        while all(self.queued):
            rounds = [queue.popleft() for queue in self.queued]
            complete.append(rounds[0])
            self.committed += 1
        if complete:
            self.round_started = now if any(self.queued) else None
        return complete

    def done(self) -> bool:
        return len(self.finished) == self.world_size and not any(self.queued)

    def unmatched(self) -> str | None:
        """Why the run cannot go on when a finished rank left others waiting in a report
        it will never make, else None."""
        stuck = [rank for rank, queue in enumerate(self.queued) if queue]
        gone = sorted(rank for rank in self.finished if not self.queued[rank])
        if not stuck or not gone:
            return None
        return (f"rank(s) {gone} returned from the training loop after "
                f"{self.committed} report(s) while rank(s) {stuck} called "
                f"ember.train.report() #{self.committed + 1}; every rank must call report() "
                "the same number of times (report is a collective, like a barrier)")

    def late(self, now: float) -> Late | None:
        """The round in progress when some ranks made its report and others not."""
        if self.round_started is None:
            return None
        arrived = [rank for rank, queue in enumerate(self.queued) if queue]
        missing = [rank for rank, queue in enumerate(self.queued) if not queue]
        return Late(self.committed + 1, arrived, missing, now - self.round_started)
