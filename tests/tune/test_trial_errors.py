"""A failed trial's error is readable: its traceback (the user's frames) printed once,
kept in the trial's error.txt, listed in a table when the run ends, and in
``ResultGrid.errors``; the other trials' results are untouched."""

from __future__ import annotations

import os

import pytest
from ember.train import FailureConfig
from ember.tune._trial import ERROR, TERMINATED, Trial
from ember.tune._trial_errors import _without_tune_frames, error_table, error_type

from ember import tune

pytestmark = pytest.mark.usefixtures("session")

_TUNE_DIR = os.path.dirname(tune.__file__)


def _run_config(tmp_path, **kwargs):
    kwargs.setdefault("verbose", 1)
    return tune.RunConfig(storage_path=str(tmp_path), name="exp", **kwargs)


def helper(x):
    raise KeyError(f"no entry {x}")


def objective(config):
    tune.report({"score": config["x"]})
    if config["x"] == 2:
        raise ValueError(f"bad x: {config['x']}")
    if config["x"] == 4:
        helper(config["x"])
    if config["x"] == 5:
        os._exit(3)  # the trial's process dies: no traceback, the death is the error
    tune.report({"score": config["x"] * 10})


def test_failed_trial_prints_traceback_once_writes_error_txt_and_ends_with_a_table(
        tmp_path, capfd):
    grid = tune.Tuner(objective, param_space={"x": tune.grid_search([1, 2, 3])},
                      run_config=_run_config(tmp_path)).fit()
    out, err = capfd.readouterr()
    output = out + err

    assert output.count("ValueError: bad x: 2") == 1
    assert output.count("Traceback (most recent call last)") == 1
    assert f'File "{__file__}"' in output and "in objective" in output
    assert "raise ValueError(f\"bad x: {config['x']}\")" in output
    assert _TUNE_DIR + os.sep not in output  # tune's own frames are cut

    failed = next(r for r in grid if r.error is not None)
    error_file = os.path.join(failed.path, "error.txt")
    with open(error_file, encoding="utf-8") as source:
        written = source.read()
    assert written.startswith("Failure # 1 (occurred at ")
    assert "Traceback (most recent call last)" in written and f'File "{__file__}"' in written
    assert written.rstrip().endswith("ValueError: bad x: 2")

    assert "1 of 3 trials errored:" in err
    rows = err[err.index("1 of 3 trials errored:"):].splitlines()
    assert rows[1].split() == ["Trial", "name", "Error", "type", "Error", "file"]
    assert rows[2].split() == [os.path.basename(failed.path), "ValueError", error_file]

    assert grid.num_errors == 1 and grid.errors == [failed.error]
    assert isinstance(failed.error, ValueError) and failed.config["x"] == 2
    assert "bad x: 2" in str(failed.error) and _TUNE_DIR + os.sep not in str(failed.error)
    assert {r.config["x"]: r.metrics["score"] for r in grid if r.error is None} == {1: 10, 3: 30}
    assert all(r.metrics_history[0]["score"] == r.config["x"] for r in grid)


@pytest.mark.parametrize("x, kind, last_line", [
    (2, "ValueError", "ValueError: bad x: 2"),
    (4, "KeyError", "KeyError: 'no entry 4'"),
    (5, "ActorDiedError", "exit code 3"),
], ids=["raised", "raised-in-a-helper", "process-died"])
def test_each_way_a_trial_fails_is_reported_with_its_type(tmp_path, capfd, x, kind, last_line):
    grid = tune.Tuner(objective, param_space={"x": x}, run_config=_run_config(tmp_path)).fit()
    err = capfd.readouterr().err
    (result,) = grid
    assert grid.num_errors == 1 and result.error is grid.errors[0]
    with open(os.path.join(result.path, "error.txt"), encoding="utf-8") as source:
        assert last_line in source.read().strip().splitlines()[-1]
    assert f"Trial {os.path.basename(result.path)} errored after 1 iterations" in err
    assert err.count(last_line) == 1
    row = err.splitlines()[-1].split()
    assert row[:2] == [os.path.basename(result.path), kind]
    assert result.metrics["score"] == x  # what it reported before failing is kept


def fails_until_marked(config):
    tune.report({"step": 0})
    mark = os.path.join(config["marks"], str(config["always"]))
    if config["always"] or not os.path.exists(mark):
        open(mark, "w").close()
        raise RuntimeError("transient" if not config["always"] else "permanent")
    tune.report({"step": 1})


def test_retried_failures_print_a_line_each_and_error_txt_keeps_every_failure(tmp_path, capfd):
    grid = tune.Tuner(
        fails_until_marked,
        param_space={"always": tune.grid_search([False, True]), "marks": str(tmp_path)},
        run_config=_run_config(tmp_path, failure_config=FailureConfig(max_failures=1))).fit()
    err = capfd.readouterr().err
    by_always = {r.config["always"]: r for r in grid}

    recovered = by_always[False]
    assert recovered.error is None and recovered.metrics["step"] == 1
    assert err.count("failed (RuntimeError: transient); restarting from the beginning") == 1
    with open(os.path.join(recovered.path, "error.txt"), encoding="utf-8") as source:
        assert source.read().count("Failure # ") == 1

    failed = by_always[True]
    assert grid.errors == [failed.error]
    assert err.count("Traceback (most recent call last)") == 1  # only the final failure's
    assert err.count("RuntimeError: permanent") == 2  # its retry line, then its traceback
    with open(os.path.join(failed.path, "error.txt"), encoding="utf-8") as source:
        written = source.read()
    assert "Failure # 1 " in written and "Failure # 2 " in written
    assert "1 of 2 trials errored:" in err


def test_silent_run_prints_nothing_and_still_writes_error_txt(tmp_path, capfd):
    grid = tune.Tuner(objective, param_space={"x": 2},
                      run_config=_run_config(tmp_path, verbose=0)).fit()
    out, err = capfd.readouterr()
    assert "bad x" not in out + err and "errored" not in out + err
    assert os.path.exists(os.path.join(grid[0].path, "error.txt")) and grid.num_errors == 1


def test_restored_experiment_lists_its_errored_trials_again(tmp_path, capfd):
    tune.Tuner(objective, param_space={"x": tune.grid_search([1, 2])},
               run_config=_run_config(tmp_path)).fit()
    capfd.readouterr()
    grid = tune.Tuner.restore(str(tmp_path / "exp"), objective).fit()
    err = capfd.readouterr().err
    (failed,) = [r for r in grid if r.error is not None]
    assert "ValueError: bad x: 2" in str(failed.error) and grid.num_errors == 1
    assert "1 of 2 trials errored:" in err
    assert err.splitlines()[-1].split()[:2] == [os.path.basename(failed.path), "ValueError"]


# -- the pure helpers, on hand-written tracebacks ------------------------------------------

def test_tune_frames_are_cut_and_user_frames_kept_with_their_source_lines():
    text = ("Traceback (most recent call last):\n"
            f'  File "{_TUNE_DIR}/_trial_actor.py", line 53, in run\n'
            "    _trainable.run(trainable, config, session,\n"
            "    ^^^^^^^^^^^^^^\n"
            f'  File "{_TUNE_DIR}/_trainable.py", line 121, in run\n'
            "    inner(config)\n"
            '  File "/home/me/train.py", line 7, in objective\n'
            "    raise ValueError(x)\n"
            "ValueError: 3\n")
    assert _without_tune_frames(text) == ("Traceback (most recent call last):\n"
                                          '  File "/home/me/train.py", line 7, in objective\n'
                                          "    raise ValueError(x)\n"
                                          "ValueError: 3\n")
    only_tune = "".join(text.splitlines(keepends=True)[:6]) + "TypeError: a bug in tune\n"
    assert _without_tune_frames(only_tune) == only_tune  # then tune's frames explain it


@pytest.mark.parametrize("text, expected", [
    (('Traceback (most recent call last):\n  File "a.py", line 1, in f\n    g()\n'
      "ValueError: a: b\nsecond line\n"), "ValueError"),
    ("ActorDiedError: actor TrialActor (pid 1) is dead: exit code 3\n", "ActorDiedError"),
    (('task TrialActor.run failed:\nTraceback (most recent call last):\n  File "a.py", '
      "line 1, in f\n    g()\nmymodule.MyError: x\n"), "MyError"),  # an older experiment's
    ("", "Error"),
], ids=["traceback", "process-death", "older-state", "empty"])
def test_error_type_is_the_exception_class_name(text, expected):
    assert error_type(text) == expected


def test_error_table_lists_only_errored_trials(tmp_path):
    ok = Trial("00000", {}, status=TERMINATED, trial_dir=str(tmp_path / "f_00000"))
    bad = Trial("00001", {}, status=ERROR, error="OSError: disk\n",
                trial_dir=str(tmp_path / "f_00001"))
    assert error_table([ok]) == []
    lines = error_table([ok, bad])
    assert lines[0] == "1 of 2 trials errored:"
    assert lines[2].split() == ["f_00001", "OSError", "(no", "error", "file)"]
