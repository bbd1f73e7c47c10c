"""The trial table: redrawn in place on a terminal, plain lines otherwise, never faster
than its interval."""

from __future__ import annotations

import io

from ember.tune._progress import TrialTable
from ember.tune._trial import ERROR, RUNNING, TERMINATED, Trial


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


def test_error_on_a_terminal_wipes_the_table_goes_to_the_error_stream_and_the_table_follows():
    out, err = Terminal(), io.StringIO()
    table = TrialTable(True, "acc", interval_s=3600.0, out=out, err=err)
    table.update(_trials(), force=True)
    drawn = len(out.getvalue().splitlines())
    table.print_error("Traceback ...\nValueError: x")
    assert out.getvalue().endswith(f"\x1b[{drawn}F\x1b[J")
    assert err.getvalue() == "Traceback ...\nValueError: x\n"
    table.update(_trials())  # drawn afresh below the error, not over it
    assert out.getvalue().count("== 2 trials") == 2 and out.getvalue().count("\x1b[J") == 1
    table.close()
    table.print_error("1 of 2 trials errored:")  # the last drawing stays
    assert out.getvalue().count("\x1b[J") == 1


def test_an_errored_trial_reported_by_print_error_gets_no_finished_line_too():
    out, err = io.StringIO(), io.StringIO()
    table = TrialTable(True, "acc", interval_s=3600.0, out=out, err=err)
    failed = Trial("00002", {"lr": 1.0}, status=ERROR, last_result={"training_iteration": 1})
    table.print_error("Trial f_00002 errored after 1 iterations", finished=failed)
    table.update([*_trials(), failed], force=True)
    assert "00002" not in out.getvalue() and "trial 00000 TERMINATED" in out.getvalue()
    TrialTable(False, "acc", out=out, err=err).print_error("silent")
    assert "silent" not in err.getvalue()
