"""Per-block transforms. Adjacent ones fuse into one task: a block goes through them all
in the worker that produced it, without a round trip in between."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pyarrow as pa


from ._blocks import from_batch, items_to_table, to_batch

_instances: dict[Any, Any] = {}


def _noted(error: Exception, operator: str, start: int, stop: int) -> Exception:
    error.add_note(f"(in operator {operator}, rows {start}-{stop} of its input block)")
    return error


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

    def _callable(self) -> Callable[..., Any]:
        if not isinstance(self.fn, type):
            return self.fn
        # A callable class is built once per worker process (a model loads once), then
        # reused for every block that process handles.
        key = (self.fn, repr(self.constructor_args), repr(sorted(self.constructor_kwargs.items())))
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = self.fn(*self.constructor_args, **self.constructor_kwargs)
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
                result = fn(batch, *self.fn_args, **self.fn_kwargs)
            except Exception as error:
                raise _noted(error, self.name, start, stop)
            outputs.append(from_batch(result, f"the function of {self.name}"))
        return _concat(outputs)


@dataclass
class RowMap:
    """``map`` (one row out per row), ``flat_map`` (a list of rows per row), ``filter``."""

    fn: Any
    kind: str
    name: str

    def __call__(self, table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        out: list[Any] = []
        keep: list[bool] = []
        for index, row in enumerate(rows):
            try:
                result = self.fn(row)
            except Exception as error:
                raise _noted(error, self.name, index, index + 1)
            if self.kind == "map":
                out.append(_check_row(result, self.name))
            elif self.kind == "flat_map":
                out.extend(_check_row(r, self.name) for r in result)
            else:
                keep.append(bool(result))
        if self.kind == "filter":
            return table.filter(pa.array(keep, type=pa.bool_())) if rows else table
        return items_to_table(out) if out else pa.table({})


def _check_row(row: Any, name: str) -> Any:
    if not isinstance(row, dict):
        raise TypeError(f"the function of {name} must return a dict (a row), got "
                        f"{type(row).__name__}")
    return row


@dataclass
class Columns:
    """``select_columns`` / ``drop_columns``."""

    columns: list[str]
    keep: bool

    def __call__(self, table: pa.Table) -> pa.Table:
        unknown = [c for c in self.columns if c not in table.column_names]
        if unknown:
            raise KeyError(f"unknown column(s) {unknown}; the dataset has {table.column_names}")
        if self.keep:
            return table.select(self.columns)
        return table.drop_columns(self.columns)


@dataclass
class AddColumn:
    column: str
    fn: Any
    batch_format: str

    def __call__(self, table: pa.Table) -> pa.Table:
        try:
            values = self.fn(to_batch(table, self.batch_format))
        except Exception as error:
            raise _noted(error, f"add_column({self.column!r})", 0, table.num_rows)
        added = from_batch({self.column: values}, f"add_column({self.column!r})")
        if self.column in table.column_names:
            table = table.drop_columns([self.column])
        return table.append_column(self.column, added.column(0))


@dataclass
class BlockAggregate:
    """A block reduced to one row ``{"value": sum/min/max of column}``."""

    column: str
    how: str
    name: str = "Aggregate"

    def __call__(self, table: pa.Table) -> pa.Table:
        import pyarrow.compute as pc

        if self.column not in table.column_names:
            raise KeyError(f"unknown column {self.column!r}; the dataset has "
                           f"{table.column_names}")
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


