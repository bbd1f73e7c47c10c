"""Per-block transforms. Adjacent ones fuse into one task: a block goes through them all
in the worker that produced it, without a round trip in between."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import _operator_errors as errors
from ._blocks import from_batch, items_to_table, to_batch

_instances: dict[Any, Any] = {}


@dataclass
class MapBatches:
    fn: Any
    batch_size: int | None
    batch_format: str
    fn_args: tuple = ()
    fn_kwargs: dict = field(default_factory=dict)
    constructor_args: tuple = ()
    constructor_kwargs: dict = field(default_factory=dict)
    name: str = "MapBatches"

    @property
    def label(self) -> str:
        """The operator as the user wrote it, for errors (``name`` is the stats name)."""
        return f"map_batches({errors.function_name(self.fn)})"

    def _callable(self) -> Callable[..., Any]:
        if not isinstance(self.fn, type):
            return self.fn
        # A callable class is built once per worker process (a model loads once), then
        # reused for every block that process handles.
        key = (self.fn, repr(self.constructor_args), repr(sorted(self.constructor_kwargs.items())))
        instance = _instances.get(key)
        if instance is None:
            try:
                instance = self.fn(*self.constructor_args, **self.constructor_kwargs)
            except Exception as error:
                errors.note(error, self.label, f"(while constructing {self.fn.__name__})")
                raise
            _instances[key] = instance
        return instance

    def __call__(self, table: pa.Table) -> pa.Table:
        fn = self._callable()
        rows = table.num_rows
        step = self.batch_size or max(rows, 1)
        outputs = []
        for start in range(0, max(rows, 1), step):
            stop = min(start + step, rows)
            batch = to_batch(table.slice(start, stop - start), self.batch_format)
            try:
                outputs.append(from_batch(fn(batch, *self.fn_args, **self.fn_kwargs),
                                          "the function"))
            except Exception as error:
                errors.note(error, self.label, errors.udf_detail(
                    error, self.fn, table.column_names, "batch",
                    f"rows {start}-{stop} of its input block"))
                raise
        return _concat(outputs)


@dataclass
class RowMap:
    """``map`` (one row out per row), ``flat_map`` (a list of rows per row), ``filter``."""

    fn: Any
    kind: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind}({errors.function_name(self.fn)})"

    def __call__(self, table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        out: list[Any] = []
        keep: list[bool] = []
        for index, row in enumerate(rows):
            try:
                result = self.fn(row)
                if self.kind == "map":
                    out.append(_check_row(result))
                elif self.kind == "flat_map":
                    out.extend(_check_row(r) for r in result)
                else:
                    keep.append(bool(result))
            except Exception as error:
                errors.note(error, self.label, errors.udf_detail(
                    error, self.fn, table.column_names, "row",
                    f"row {index} of its input block"))
                raise
        if self.kind == "filter":
            return table.filter(pa.array(keep, type=pa.bool_())) if rows else table
        return items_to_table(out) if out else pa.table({})


def _check_row(row: Any) -> Any:
    if not isinstance(row, dict):
        raise TypeError(f"the function must return a dict (a row), got {type(row).__name__}")
    return row


@dataclass
class Columns:
    """``select_columns`` / ``drop_columns``."""

    columns: list[str]
    keep: bool

    @property
    def label(self) -> str:
        return f"{'select' if self.keep else 'drop'}_columns({self.columns!r})"

    def __call__(self, table: pa.Table) -> pa.Table:
        error = errors.missing_columns(self.columns, table.column_names, self.label)
        if error is not None:
            raise error
        if self.keep:
            return table.select(self.columns)
        return table.drop_columns(self.columns)


@dataclass
class AddColumn:
    column: str
    fn: Any
    batch_format: str

    @property
    def label(self) -> str:
        return f"add_column({self.column!r})"

    def __call__(self, table: pa.Table) -> pa.Table:
        try:
            added = from_batch({self.column: self.fn(to_batch(table, self.batch_format))},
                               "the function")
        except Exception as error:
            errors.note(error, self.label, errors.udf_detail(
                error, self.fn, table.column_names, "batch",
                f"rows 0-{table.num_rows} of its input block"))
            raise
        if self.column in table.column_names:
            table = table.drop_columns([self.column])
        return table.append_column(self.column, added.column(0))


@dataclass
class BlockAggregate:
    """A block reduced to one row ``{"value": sum/min/max of column}``."""

    column: str
    how: str
    name: str = "Aggregate"
    operator: str = ""
    """The dataset method this reduction serves, e.g. ``mean`` (default: ``how``)."""

    @property
    def label(self) -> str:
        return f"{self.operator or self.how}({self.column!r})"

    def __call__(self, table: pa.Table) -> pa.Table:
        import pyarrow.compute as pc

        error = errors.missing_columns([self.column], table.column_names, self.label)
        if error is not None:
            raise error
        if not table.num_rows:
            return pa.table({"value": pa.array([], type=table.column(self.column).type)})
        value = getattr(pc, self.how)(table.column(self.column))
        return pa.table({"value": pa.array([value.as_py()])})


@dataclass
class Slice:
    start: int
    stop: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.slice(self.start, max(0, self.stop - self.start))


def _concat(tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_columns] or tables[:1]
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default")


def run_chain(table: pa.Table, transforms: list[Any]) -> pa.Table:
    for transform in transforms:
        table = transform(table)
    return table


