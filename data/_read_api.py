"""Where datasets come from: in-memory values and files."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pyarrow as pa

import ember

from ._blocks import items_to_table
from ._context import DataContext
from ._dataset import Dataset
from ._io import ReadTask, parquet_tasks, resolve_files


def _in_memory(tables: list[pa.Table]) -> Dataset:
    return Dataset([(ember.put(table), table.num_rows) for table in tables])


def _chunks(count: int, blocks: int | None) -> list[tuple[int, int]]:
    target = DataContext.get_current().target_block_rows
    blocks = blocks or max(1, -(-count // target))
    step = max(1, -(-count // blocks))
    return [(start, min(start + step, count))
            for start in builtins.range(0, count, step)] or [(0, 0)]


def range(n: int, *, override_num_blocks: int | None = None) -> Dataset:  # noqa: A001
    """Rows ``{"id": 0} .. {"id": n - 1}``, made by the workers that read them."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"range needs an int n >= 0, got {n!r}")
    return Dataset([_RangeTask(start, stop) for start, stop in _chunks(n, override_num_blocks)])


class _RangeTask:
    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop

    def __call__(self) -> pa.Table:
        return pa.table({"id": np.arange(self.start, self.stop, dtype=np.int64)})


def from_items(items: list[Any], *, override_num_blocks: int | None = None) -> Dataset:
    """Rows from a list: dicts become columns, other values a column ``item``."""
    if not isinstance(items, list):
        raise TypeError(f"from_items needs a list, got {type(items).__name__}")
    return _in_memory([items_to_table(items[start:stop])
                       for start, stop in _chunks(len(items), override_num_blocks)])


def from_numpy(arrays: np.ndarray | list[np.ndarray]) -> Dataset:
    """One row per first-axis entry of each array, in a column ``data``."""
    arrays = [arrays] if isinstance(arrays, np.ndarray) else list(arrays)
    return _in_memory([items_to_table(list(a)).rename_columns(["data"]) for a in arrays])


def from_pandas(dfs: Any) -> Dataset:
    frames = dfs if isinstance(dfs, list) else [dfs]
    return _in_memory([pa.Table.from_pandas(df, preserve_index=False) for df in frames])


def from_arrow(tables: pa.Table | list[pa.Table]) -> Dataset:
    return _in_memory([tables] if isinstance(tables, pa.Table) else list(tables))


def read_parquet(paths: str | list[str], *, columns: list[str] | None = None,
                 filesystem: Any = None) -> Dataset:
    """Parquet files or directories (local, or any URI pyarrow.fs opens); only
    ``columns`` are read; large files are split by row group."""
    fs, files = resolve_files(paths, (".parquet", ".parq"), filesystem)
    target = DataContext.get_current().target_block_rows
    return Dataset(parquet_tasks(fs, files, columns, target))


def read_csv(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    fs, files = resolve_files(paths, (".csv",), filesystem)
    return Dataset([ReadTask(fs, path, "csv") for path in files])


def read_json(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    """JSON-lines files (one object per line)."""
    fs, files = resolve_files(paths, (".json", ".jsonl"), filesystem)
    return Dataset([ReadTask(fs, path, "json") for path in files])


def read_numpy(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    fs, files = resolve_files(paths, (".npy",), filesystem)
    return Dataset([ReadTask(fs, path, "numpy") for path in files])
