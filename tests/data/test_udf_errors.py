"""A failure inside an operator reads as the user wrote it: the operator named once (as the
failed task), the user's exception type kept, and a missing column listed with the
columns there are. Failure modes are rows of tables; each runs on a real session."""

from __future__ import annotations

import traceback

import pytest
from ember.data._operator_errors import make_readable

import ember
from ember import data
from ember.exceptions import TaskError

pytestmark = pytest.mark.usefixtures("session")


def _failure(ds: data.Dataset, expected: type[BaseException]) -> tuple[BaseException, str]:
    """The error consuming ``ds`` raises, and the whole report Python would print for it.
    (``ds`` is built by the caller, so the report's source lines do not name operators.)"""
    with pytest.raises(expected) as info:
        ds.take_all()
    return info.value, "".join(traceback.format_exception(info.value))


def _missing_in_batch(batch):
    return {"y": batch["nope"]}


def _boom(batch):
    raise ValueError("boom")


@pytest.mark.parametrize("batch_format", ["default", "numpy", "pyarrow", "pandas"])
def test_missing_column_in_map_batches_lists_the_columns_once(batch_format):
    ds = data.range(10).map_batches(_missing_in_batch, batch_format=batch_format)
    error, report = _failure(ds, KeyError)
    assert isinstance(error, TaskError) and isinstance(error.cause, KeyError)
    assert error.function_name == "map_batches(_missing_in_batch)"
    assert "column 'nope' is not in the batch; columns: ['id']" in str(error)
    for text in (str(error), report):
        assert text.count("map_batches(_missing_in_batch)") == 1
        assert text.count("columns: ['id']") == 1


def test_udf_exception_keeps_its_type_and_names_the_operator_once():
    ds = data.range(10).map_batches(_boom, batch_size=5)
    error, report = _failure(ds, ValueError)
    assert isinstance(error, TaskError)
    message = str(error)
    assert message.startswith("task map_batches(_boom) failed:\n")
    assert "ValueError: boom" in message and "rows 0-5 of its input block" in message
    assert report.count("map_batches(_boom)") == 1
    assert report.count("rows 0-5 of its input block") == 1


def test_remote_traceback_shows_the_users_frames_not_ember_datas():
    error, _ = _failure(data.range(4).map_batches(_boom), ValueError)
    assert "in _boom" in str(error)
    assert "_transforms.py" not in str(error) and "_executor.py" not in str(error)


def _missing_in_row(row):
    return {"y": row["nope"]}


def _row_boom(row):
    raise ValueError("boom")


ROW_UDFS = {
    "map": (lambda: data.range(5).map(_missing_in_row), KeyError, "map(_missing_in_row)"),
    "filter": (lambda: data.range(5).filter(_missing_in_row), KeyError,
               "filter(_missing_in_row)"),
    "flat_map": (lambda: data.range(5).flat_map(_row_boom), ValueError, "flat_map(_row_boom)"),
}


@pytest.mark.parametrize("build,expected,label", list(ROW_UDFS.values()), ids=list(ROW_UDFS))
def test_row_udf_errors_name_the_operator_once(build, expected, label):
    error, report = _failure(build(), expected)
    assert error.function_name == label
    assert report.count(label) == 1 and "row 0 of its input block" in str(error)
    if expected is KeyError:
        assert "column 'nope' is not in the row; columns: ['id']" in str(error)


BUILT_IN = {
    "select_columns": (lambda ds: ds.select_columns(["nope"]), "select_columns(['nope'])"),
    "drop_columns": (lambda ds: ds.drop_columns(["nope"]), "drop_columns(['nope'])"),
    "sort": (lambda ds: ds.sort("nope"), "sort('nope')"),
    "groupby key": (lambda ds: ds.groupby("nope").count(), "groupby('nope').count()"),
    "groupby column": (lambda ds: ds.groupby("id").sum("nope"), "groupby('id').sum('nope')"),
}


@pytest.mark.parametrize("build,label", list(BUILT_IN.values()), ids=list(BUILT_IN))
def test_a_missing_column_in_a_built_in_operation_lists_the_columns(build, label):
    error, report = _failure(build(data.range(6, override_num_blocks=2)), KeyError)
    assert "column 'nope' is not in the dataset; columns: ['id']" in str(error)
    assert error.function_name == label and report.count(label) == 1


@pytest.mark.parametrize("how", ["sum", "min", "max", "mean"])
def test_a_missing_column_in_an_aggregate_names_the_aggregate(how):
    with pytest.raises(KeyError) as info:
        getattr(data.range(6), how)("nope")
    assert info.value.function_name == f"{how}('nope')"
    assert "columns: ['id']" in str(info.value)


class _Model:
    def __call__(self, batch):
        return {"y": batch["idd"]}


def test_actor_pool_udf_error_is_named_once_with_a_close_column():
    ds = data.range(10).map_batches(_Model, compute=data.ActorPoolStrategy(size=1))
    error, report = _failure(ds, KeyError)
    assert report.count("map_batches(_Model)") == 1
    assert "columns: ['id']; did you mean 'id'?" in str(error)


def test_unusable_udf_output_says_where_the_function_is():
    ds = data.range(3).map_batches(lambda batch: [1, 2])
    error, report = _failure(ds, TypeError)
    assert report.count("map_batches(<lambda>)") == 1
    assert "it returned a list" in str(error)
    assert f"<lambda> is defined at {__file__}:" in str(error)


def test_only_the_failing_operator_of_a_fused_stage_is_named():
    ds = data.range(5).map_batches(lambda batch: batch).map(_missing_in_row)
    error, _report = _failure(ds, KeyError)
    assert error.function_name == "map(_missing_in_row)"
    assert "map_batches(" not in str(error)


# -- the driver-side rewrite on its own ------------------------------------------------------
TEXT = ('Traceback (most recent call last):\n'
        f'  File "{data.__file__.replace("__init__.py", "_transforms.py")}", line 9, in run\n'
        '    fn(batch)\n'
        '  File "/home/me/job.py", line 3, in f\n'
        '    raise ValueError("x")\n'
        'ValueError: x\n'
        'a note of the user\n'
        'in map_batches(f): (rows 0-4 of its input block)\n')


def _engine_error() -> TaskError:
    cause = ValueError("x")
    cause.add_note("a note of the user")
    cause.add_note("in map_batches(f): (rows 0-4 of its input block)")
    error = TaskError("produce_block", TEXT, cause)
    error.__notes__ = cause.__notes__  # what the engine copies onto the error it raises
    return error


def test_make_readable_names_the_operator_as_the_task_and_keeps_user_frames():
    error = _engine_error()
    make_readable(error, ["map_batches(g)", "map_batches(f)"])
    assert str(error) == ('task map_batches(f) failed:\n'
                          'Traceback (most recent call last):\n'
                          '  File "/home/me/job.py", line 3, in f\n'
                          '    raise ValueError("x")\n'
                          'ValueError: x\n'
                          'a note of the user\n'
                          '(rows 0-4 of its input block)')
    assert not hasattr(error, "__notes__") and not hasattr(error.cause, "__notes__")


def test_make_readable_leaves_a_failure_no_operator_noted():
    error = _engine_error()
    make_readable(error, ["map(g)"])
    assert error.function_name == "produce_block" and error.traceback_text == TEXT
    assert len(error.__notes__) == 2


def test_the_engine_keeps_working_after_udf_errors():
    with pytest.raises(ValueError):
        data.range(4).map_batches(_boom).take_all()
    assert data.range(4).map_batches(lambda b: {"y": b["id"] + 1}).sum("y") == 10
    assert ember.is_initialized()
