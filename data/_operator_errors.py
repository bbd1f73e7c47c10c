"""How a failure inside an operator reaches its user: the operator named once, in the
words the user wrote (``map_batches(f)``), and the user's own exception type kept.

    worker, error path only                          driver
    a transform catches the exception                ember.get raises a TaskError that is
      note(error, "map_batches(f)", detail)            also the user's class
      one note: "in map_batches(f): <detail>"  ──>   make_readable(error, labels of the stage)
      detail: a missing column and the columns         "task map_batches(f) failed:"
      that exist, the rows, where f is defined         the note's line keeps only the detail;
                                                       notes shown once; ember.data frames cut

The engine already carries the user's type and traceback (``TaskError`` is also the user's
class); this module only adds which operator failed and says it once. Nothing here runs
unless something failed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ember.exceptions import TaskError

_DATA_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FRAME = '  File "'
_ARROW_MISSING = re.compile(r'^Field "(.*)" does not exist in schema$')
_SHOWN_COLUMNS = 20


# -- worker side ----------------------------------------------------------------------------
def function_name(fn: Any) -> str:
    """The name a user knows their function (or callable class) by."""
    return getattr(fn, "__name__", type(fn).__name__)


def note(error: BaseException, label: str, detail: str = "") -> None:
    """Say that ``error`` happened in operator ``label`` (one note, read by the driver)."""
    try:
        error.add_note(f"in {label}: {detail}" if detail else f"in {label}")
    except (AttributeError, TypeError):  # an exception that takes no attributes
        pass


def udf_detail(error: BaseException, fn: Any, columns: Sequence[str], unit: str,
               rows: str) -> str:
    """What the driver adds under the user's exception: a missing column and the columns
    that exist, the rows being processed, and where ``fn`` is defined when no frame of it
    is in the traceback (it returned something unusable, or its constructor failed)."""
    facts = [rows]
    defined = _defined_at(fn, error)
    if defined:
        facts.append(defined)
    where = f"({'; '.join(facts)})"
    hint = _missing_column(error, columns, unit)
    return f"{hint} {where}" if hint else where


def missing_columns(wanted: Iterable[str], columns: Sequence[str], label: str) -> KeyError | None:
    """The error of a built-in operator asked for columns the dataset lacks, or None."""
    missing = [name for name in wanted if name not in columns]
    if not missing:
        return None
    what = f"column {missing[0]!r} is" if len(missing) == 1 else f"columns {missing} are"
    error = KeyError(f"{what} not in the dataset; columns: {_shown(columns)}"
                     f"{_did_you_mean(missing[0], columns)}")
    note(error, label)
    return error


def _missing_column(error: BaseException, columns: Sequence[str], unit: str) -> str | None:
    """For a KeyError naming a string that is not a column (a dict batch or row, pandas and
    pyarrow all raise one), the sentence that lists the columns there are."""
    key = error.args[0] if isinstance(error, KeyError) and len(error.args) == 1 else None
    if not isinstance(key, str):
        return None
    arrow = _ARROW_MISSING.match(key)
    key = arrow.group(1) if arrow else key
    if key in columns:
        return None
    return (f"column {key!r} is not in the {unit}; columns: {_shown(columns)}"
            f"{_did_you_mean(key, columns)}")


def _shown(columns: Sequence[str]) -> str:
    names = list(columns)
    if len(names) <= _SHOWN_COLUMNS:
        return str(names)
    return f"{names[:_SHOWN_COLUMNS]} and {len(names) - _SHOWN_COLUMNS} more"


def _did_you_mean(key: str, columns: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(columns), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _defined_at(fn: Any, error: BaseException) -> str | None:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__call__", None), "__code__", None)  # noqa: B004 - the code of __call__, not a callable() test
    if code is None:
        return None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return None  # the traceback already shows the user's function
        tb = tb.tb_next
    return f"{function_name(fn)} is defined at {code.co_filename}:{code.co_firstlineno}"


# -- driver side ----------------------------------------------------------------------------
def labels(transforms: Iterable[Any]) -> list[str]:
    """The operator labels of a stage's fused transforms (those that have one)."""
    return [label for t in transforms if (label := getattr(t, "label", None))]


def make_readable(error: TaskError, operator_labels: Iterable[str]) -> None:
    """Rewrite ``error`` (in place; the caller re-raises it) when one of the operators
    noted it: it is then named once, as the failed task, with the note's detail under the
    user's exception; ember.data's own frames are cut, and notes are shown once.

    A failure no operator noted (a read, an engine error) is left as the engine made it.
    """
    text = error.traceback_text
    lines = text.splitlines()
    for label in operator_labels:
        mark = f"in {label}"
        index = next((i for i in range(len(lines) - 1, -1, -1)
                      if lines[i] == mark or lines[i].startswith(mark + ": ")), None)
        if index is not None:
            break
    else:
        return
    _notes_once(error, text)
    detail = lines[index][len(mark) + 2:]
    lines[index:index + 1] = [detail] if detail else []
    error.traceback_text = _without_data_frames(lines)
    error.function_name = label


def _notes_once(error: TaskError, text: str) -> None:
    """The traceback text already ends with the exception's notes; the engine also copies
    them onto the error and its cause, which Python would print twice more."""
    for holder in (error, error.cause):
        notes = getattr(holder, "__notes__", None)
        if not isinstance(notes, list):
            continue
        kept = [n for n in notes if not (isinstance(n, str) and n in text)]
        if kept:
            holder.__notes__ = kept  # type: ignore[union-attr]
        else:
            del holder.__notes__  # type: ignore[union-attr]


def _without_data_frames(lines: list[str]) -> str:
    """``lines`` of a traceback without the frames in ember.data's files (each frame is a
    ``  File "..."`` line followed by indented source and caret lines)."""
    kept: list[str] = []
    frames = 0
    skipping = False
    in_frames = bool(lines) and lines[0].startswith("Traceback (")
    for line in lines[1:] if in_frames else lines:
        if in_frames and not line.startswith("  "):
            in_frames = False  # the exception's own lines: kept as they are
        if in_frames and line.startswith(_FRAME):
            filename = line[len(_FRAME):].split('"', 1)[0]
            skipping = os.path.abspath(filename).startswith(_DATA_DIR)
            frames += not skipping
        if not (in_frames and skipping):
            kept.append(line)
    header = ["Traceback (most recent call last):"] if frames else []
    return "\n".join(header + kept) + "\n"
