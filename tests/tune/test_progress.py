"""The trial table: redrawn in place on a terminal, plain lines otherwise, never faster
than its interval."""

from __future__ import annotations

import io

from ember.tune._progress import TrialTable
from ember.tune._trial import RUNNING, TERMINATED, Trial


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _trials():
    done = Trial("00000", {"lr": 0.1, "model": {"width": 64}}, status=TERMINATED,
                 last_result={"training_iteration": 5, "acc": 0.91234})
    running = Trial("00001", {"lr": 0.01, "model": {"width": 128}}, status=RUNNING,
                    last_result={"training_iteration": 2, "acc": 0.5})
    return [done, running]


def test_terminal_table_has_config_iterations_and_metric_and_redraws_in_place():
    out = Terminal()
    table = TrialTable(True, "acc", interval_s=0.0, out=out)
    table.update(_trials())
    first = out.getvalue().splitlines()
    assert first[0] == "== 2 trials: 1 RUNNING, 1 TERMINATED"
    assert first[1].split() == ["trial", "status", "lr", "model/width", "iter", "acc"]
    assert first[2].split() == ["00000", "TERMINATED", "0.1", "64", "5", "0.9123"]
    table.update(_trials())
    assert f"\x1b[{len(first)}F" in out.getvalue()  # cursor back up: the table is redrawn


def test_plain_output_prints_finished_trials_once_and_summaries_when_they_change():
    out = io.StringIO()
    table = TrialTable(True, "acc", interval_s=3600.0, out=out)
    table.update(_trials(), force=True)
    table.update(_trials())
    table.update(_trials(), force=True)
    lines = out.getvalue().splitlines()
    assert lines == ["trial 00000 TERMINATED after 5 iterations, acc=0.9123",
                     "== 2 trials: 1 RUNNING, 1 TERMINATED"]


def test_disabled_table_prints_nothing():
    out = io.StringIO()
    TrialTable(False, "acc", interval_s=0.0, out=out).update(_trials(), force=True)
    assert out.getvalue() == ""
