"""The live trial table: redrawn in place at most every few seconds on a terminal, a
status line per interval (and a line per finished trial) otherwise. Error reports go
to the error stream, above the table, which is then drawn again below them."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ._trial import ERROR, TERMINATED, Trial, flat_config

_MAX_ROWS = 20
_MAX_CONFIG = 3


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:14]


class TrialTable:
    def __init__(self, enabled: bool, metric: str | None, interval_s: float = 5.0,
                 out: TextIO | None = None, err: TextIO | None = None):
        self.enabled = enabled
        self.metric = metric
        self.interval_s = interval_s
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = self.out.isatty()
        self.last = float("-inf")  # not 0: monotonic() may be small on a fresh machine
        self.drawn_lines = 0
        self.announced: set[str] = set()
        self.last_line = ""

    def update(self, trials: list[Trial], force: bool = False) -> None:
        if not self.enabled:
            return
        if not self.tty:
            self._announce_finished(trials)
        now = time.monotonic()
        if not force and now - self.last < self.interval_s:
            return
        self.last = now
        if self.tty:
            self._redraw(self.render(trials))
        else:
            line = self.summary(trials)
            if line != self.last_line:
                print(line, file=self.out, flush=True)
                self.last_line = line

    def print_error(self, text: str, finished: Trial | None = None) -> None:
        """Print ``text`` on the error stream; when it reports that trial ``finished``
        (errored), it stands for that trial's finished line. On a terminal the live table is
        wiped first (a redraw in place would overwrite the text) and drawn afresh at the
        next update."""
        if not self.enabled:
            return
        if finished is not None:
            self.announced.add(finished.trial_id)
        if self.tty and self.drawn_lines:
            self.out.write(f"\x1b[{self.drawn_lines}F\x1b[J")
            self.out.flush()
            self.drawn_lines = 0
            self.last = float("-inf")
        print(text, file=self.err, flush=True)

    def close(self) -> None:
        """The last drawing stays on screen: what is printed after it goes below it."""
        self.drawn_lines = 0

    def summary(self, trials: list[Trial]) -> str:
        counts: dict[str, int] = {}
        for trial in trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"== {len(trials)} trials: {status}"

    def render(self, trials: list[Trial]) -> list[str]:
        keys = list(dict.fromkeys(k for t in trials for k in flat_config(t.config)))[:_MAX_CONFIG]
        header = ["trial", "status", *keys, "iter", self.metric or "last result"]
        rows = [header]
        for trial in trials[-_MAX_ROWS:]:
            flat = flat_config(trial.config)
            result = trial.last_result
            latest = result.get(self.metric, "") if self.metric else ""
            rows.append([trial.trial_id, trial.status, *(_cell(flat.get(k, "")) for k in keys),
                         str(result.get("training_iteration", "")), _cell(latest)])
        widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(header))]
        return [self.summary(trials)] + ["".join(c.ljust(w) for c, w in zip(row, widths))
                                         for row in rows]

    def _redraw(self, lines: list[str]) -> None:
        if self.drawn_lines:
            self.out.write(f"\x1b[{self.drawn_lines}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self.drawn_lines = len(lines)

    def _announce_finished(self, trials: list[Trial]) -> None:
        for trial in trials:
            if trial.status in (TERMINATED, ERROR) and trial.trial_id not in self.announced:
                self.announced.add(trial.trial_id)
                result = trial.last_result
                metric = f", {self.metric}={_cell(result.get(self.metric))}" \
                    if self.metric and self.metric in result else ""
                print(f"trial {trial.trial_id} {trial.status} after "
                      f"{result.get('training_iteration', 0)} iterations{metric}",
                      file=self.out, flush=True)
