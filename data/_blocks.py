"""Blocks are ``pyarrow.Table``s; batches are what user functions see and return."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

BATCH_FORMATS = ("default", "numpy", "pyarrow", "pandas")


def check_batch_format(batch_format: str) -> str:
    if batch_format not in BATCH_FORMATS:
        raise ValueError(
            f"batch_format must be one of {', '.join(map(repr, BATCH_FORMATS))}, got "
            f"{batch_format!r}")
    return "numpy" if batch_format == "default" else batch_format


def to_batch(table: pa.Table, batch_format: str) -> Any:
    """A block as the user asked to see it."""
    if batch_format == "pyarrow":
        return table
    if batch_format == "pandas":
        return table.to_pandas()
    return {name: column_to_numpy(table.column(name)) for name in table.column_names}


def column_to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column as one array; list columns whose rows all have one length (vectors, e.g.
    from parquet) become 2-D arrays instead of arrays of Python objects."""
    if isinstance(column.type, pa.FixedShapeTensorType):
        return column.combine_chunks().to_numpy_ndarray()
    kind = column.type
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)) and column.null_count == 0 and len(column):
        import pyarrow.compute as pc

        array = column.combine_chunks()
        lengths = pc.list_value_length(array)
        width = pc.min(lengths).as_py()
        if width == pc.max(lengths).as_py() and array.flatten().null_count == 0:
            return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), width)
    return column.to_numpy()


def from_batch(batch: Any, where: str) -> pa.Table:
    """A user function's output as a block; a clear error for anything else."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, dict):
        try:
            return pa.table({name: _to_arrow(name, values) for name, values in batch.items()})
        except (pa.ArrowInvalid, ValueError) as error:
            raise ValueError(f"{where} returned a dict whose columns cannot form a table "
                             f"(every value must be an array of the same length): {error}") from None
    pandas = _pandas_or_none()
    if pandas is not None and isinstance(batch, pandas.DataFrame):
        return pa.Table.from_pandas(batch, preserve_index=False)
    raise TypeError(
        f"{where} must return a dict of column name -> array, a pandas DataFrame or a "
        f"pyarrow Table; it returned a {type(batch).__name__}")


def _to_arrow(name: str, values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    array = np.asarray(values)
    if array.ndim > 1:
        return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(array))
    return pa.array(array)


def _pandas_or_none() -> Any:
    import sys

    return sys.modules.get("pandas")


def items_to_table(items: list[Any]) -> pa.Table:
    """Rows as a block: dict rows become columns, anything else a column ``item``."""
    if items and all(isinstance(item, dict) for item in items):
        names = list(dict.fromkeys(name for item in items for name in item))
        columns = {name: [item.get(name) for item in items] for name in names}
        if not any(_uniform_arrays(values) for values in columns.values()):
            return pa.Table.from_pylist(items)
        return pa.table({name: _to_arrow(name, values) if _uniform_arrays(values)
                         else pa.array(values) for name, values in columns.items()})
    return pa.table({"item": _to_arrow("item", items) if _uniform_arrays(items)
                     else pa.array(items)})


def _uniform_arrays(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, np.ndarray) for item in items) and \
        len({item.shape for item in items}) == 1 and items[0].ndim >= 1


def slice_rows(table: pa.Table, start: int, stop: int) -> pa.Table:
    return table.slice(start, max(0, stop - start))


def rebatch(tables: Any, batch_size: int | None, batch_format: str,
            drop_last: bool) -> Any:
    """Batches of exactly ``batch_size`` rows (the last may be short) across tables;
    ``None``: one batch per table."""
    carry: list[pa.Table] = []
    carried = 0
    for table in tables:
        if not table.num_rows:
            continue
        if batch_size is None:
            yield to_batch(table, batch_format)
            continue
        carry.append(table)
        carried += table.num_rows
        while carried >= batch_size:
            joined = pa.concat_tables(carry) if len(carry) > 1 else carry[0]
            yield to_batch(joined.slice(0, batch_size), batch_format)
            rest = joined.slice(batch_size)
            carry, carried = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
    if carried and not drop_last:
        yield to_batch(pa.concat_tables(carry) if len(carry) > 1 else carry[0], batch_format)
