"""A failed trial's error as its user reads it: the traceback of their own code, printed
once, kept in the trial's folder, and listed again when the run ends.

    ember.get(run_ref) raises ─> error_text(error)            the user's frames (tune's cut)
        ├─> write_error_file(trial_dir, n, text)              <trial_dir>/error.txt, one entry
        │                                                     appended per failure
        ├─> retried (max_failures):  retry_message(...)       one line
        └─> ERROR:                   failure_message(...)     the traceback, once
    end of the run ─> error_table(trials)                     "N of M trials errored" and a row
                                                              per errored trial
"""

from __future__ import annotations

import os
import time

from ember.exceptions import TaskError

from ._trial import ERROR, Trial

ERROR_FILE = "error.txt"
_TUNE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FRAME = '  File "'


def error_text(error: BaseException) -> str:
    """The traceback of the user's code for ``error``, ending with its type and message.

    A trainable's exception arrives as a ``TaskError`` whose text the engine has already
    trimmed to non-engine frames; the frames left in tune itself (the trial actor calling
    the trainable) are cut here too. A process that died has no traceback: its message
    (what died, and why) is the text.
    """
    if not isinstance(error, TaskError):  # named as ember.exceptions exports it
        return f"{type(error).__name__}: {error}\n"
    text = _without_tune_frames(error.traceback_text)
    error.traceback_text = text  # str(result.error) then shows what was printed
    return text


def _without_tune_frames(text: str) -> str:
    """``text`` (``traceback.format_list`` frames) without the frames in tune's files; as
    it was when nothing else is left (the failure is then in tune itself)."""
    kept: list[str] = []
    skipping = False
    frames = 0
    for line in text.splitlines(keepends=True):
        if line.startswith(_FRAME):
            filename = line[len(_FRAME):].split('"', 1)[0]
            skipping = os.path.abspath(filename).startswith(_TUNE_DIR)
            frames += not skipping
        elif not (skipping and line.startswith("    ")):  # a frame's source and carets
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept) if frames else text


def _exception_line(text: str) -> str:
    """The ``Type: message`` line of a traceback ``text``: after the header, the first
    line that is not indented (frames and their source lines are)."""
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("Traceback (")), 0)
    return next((line for line in lines[start:] if line and not line[0].isspace()), "")


def error_type(text: str) -> str:
    """The exception's class name in a traceback ``text`` (``ValueError``)."""
    return _exception_line(text).split(":", 1)[0].rsplit(".", 1)[-1] or "Error"


def error_file(trial: Trial) -> str:
    return os.path.join(trial.trial_dir, ERROR_FILE)


def write_error_file(trial: Trial, text: str) -> str:
    """Append the failure ``text`` to the trial's ``error.txt`` (one entry per failure, as
    a retried trial may fail more than once); return the file's path."""
    path = error_file(trial)
    os.makedirs(trial.trial_dir, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"Failure # {trial.num_failures} (occurred at "
                  f"{time.strftime('%Y-%m-%d_%H-%M-%S')})\n{text.rstrip()}\n\n")
    return path


def failure_message(trial: Trial, text: str) -> str:
    iterations = trial.last_result.get("training_iteration", 0)
    return (f"Trial {trial.name} errored after {iterations} iterations; error file: "
            f"{error_file(trial)}\n{text.rstrip()}")


def retry_message(trial: Trial, text: str, allowed: int) -> str:
    start = "its latest checkpoint" if trial.checkpoint is not None else "the beginning"
    allowance = ("max_failures=-1 retries without limit" if allowed == -1
                 else f"FailureConfig(max_failures={allowed}) allows {allowed}")
    return (f"Trial {trial.name} failed ({_exception_line(text)}); restarting from {start}, "
            f"failure {trial.num_failures}: {allowance}; traceback in {error_file(trial)}")


def error_table(trials: list[Trial]) -> list[str]:
    """"N of M trials errored" and a row per errored trial (name, error type, error file);
    no lines when none errored."""
    errored = [trial for trial in trials if trial.status == ERROR]
    if not errored:
        return []
    rows = [["Trial name", "Error type", "Error file"]]
    for trial in errored:
        path = error_file(trial)
        rows.append([trial.name, error_type(trial.error or ""),
                     path if os.path.exists(path) else "(no error file)"])
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(2)]
    lines = ["".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[2]
             for row in rows]
    return [f"{len(errored)} of {len(trials)} trials errored:", *lines]
