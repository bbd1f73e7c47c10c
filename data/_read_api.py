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


def range(n: int, *, override_num_blocks: int | None = None) -> Dataset:
    """Rows ``{"id": 0} .. {"id": n - 1}``, made by the workers that read them.

    Args:
        n: how many rows, an int >= 0; column ``id`` is int64.
        override_num_blocks: how many blocks to cut the rows into (about equal;
            fewer when there are too few rows). Default None: one block per
            ``DataContext.target_block_rows`` rows (usually one block). Ray's
            older ``parallelism=`` is not accepted.

    Returns:
        A Dataset; each block is created by a read task when the dataset runs.

    Raises:
        ValueError: ``n`` is not an int >= 0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"range needs an int n >= 0, got {n!r}")
    return Dataset([_RangeTask(start, stop) for start, stop in _chunks(n, override_num_blocks)])


class _RangeTask:
    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop

    def __call__(self) -> pa.Table:
        return pa.table({"id": np.arange(self.start, self.stop, dtype=np.int64)})


def from_items(items: list[Any], *, override_num_blocks: int | None = None) -> Dataset:
    """Rows from a list: dicts become columns, other values a column ``item``.

    Args:
        items: a list. When every item is a dict, they are the rows (columns: the
            union of their keys; a missing key is null); otherwise each item becomes
            the row ``{"item": item}``. numpy arrays of one shape become a tensor
            column.
        override_num_blocks: how many blocks to cut the rows into (about equal;
            fewer when there are too few rows). Default None: one block per
            ``DataContext.target_block_rows`` rows (usually one block). Ray's
            older ``parallelism=`` is not accepted.

    Returns:
        A Dataset whose blocks the driver puts in the object store now.

    Raises:
        TypeError: ``items`` is not a list.
    """
    if not isinstance(items, list):
        raise TypeError(f"from_items needs a list, got {type(items).__name__}")
    return _in_memory([items_to_table(items[start:stop])
                       for start, stop in _chunks(len(items), override_num_blocks)])


def from_numpy(arrays: np.ndarray | list[np.ndarray]) -> Dataset:
    """One row per first-axis entry of each array, in a column ``data``.

    Args:
        arrays: a numpy array, or a list of them (one block each). Rows of a 2-D or
            higher array are arrays themselves (a tensor column).

    Returns:
        A Dataset whose blocks the driver puts in the object store now.
    """
    arrays = [arrays] if isinstance(arrays, np.ndarray) else list(arrays)
    return _in_memory([items_to_table(list(a)).rename_columns(["data"]) for a in arrays])


def from_pandas(dfs: Any) -> Dataset:
    """Rows of pandas DataFrames.

    Args:
        dfs: a DataFrame, or a list of them (one block each). The index is dropped.

    Returns:
        A Dataset whose blocks the driver puts in the object store now.
    """
    frames = dfs if isinstance(dfs, list) else [dfs]
    return _in_memory([pa.Table.from_pandas(df, preserve_index=False) for df in frames])


def from_arrow(tables: pa.Table | list[pa.Table]) -> Dataset:
    """Rows of pyarrow Tables.

    Args:
        tables: a ``pyarrow.Table``, or a list of them (one block each).

    Returns:
        A Dataset whose blocks the driver puts in the object store now.
    """
    return _in_memory([tables] if isinstance(tables, pa.Table) else list(tables))


def read_parquet(paths: str | list[str], *, columns: list[str] | None = None,
                 filesystem: Any = None) -> Dataset:
    """Parquet files or directories (local, or any URI pyarrow.fs opens); only
    ``columns`` are read; large files are split by row group.

    Each file's footer is read now (to plan the blocks); the data is read by tasks when
    the dataset runs, one block per group of row groups of about
    ``DataContext.target_block_rows`` rows. Ray's other arguments
    (``override_num_blocks``, ``partitioning``, ``include_paths``...) are not accepted.

    Example::

        ds = ember.data.read_parquet("s3://bucket/events/", columns=["user", "ts"])

    Args:
        paths: a file, a directory, or a list of them: local paths (``~`` expanded,
            relative ones from the current directory) or URIs pyarrow.fs opens
            (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``, ``file:///...``).
            A directory is searched recursively for ``.parquet`` / ``.parq`` files,
            skipping names that start with ``.`` or ``_``; a file named directly is read
            whatever its extension. Every path is read through one filesystem: the
            first path's (or ``filesystem``).
        filesystem: a ``pyarrow.fs.FileSystem`` to read from; ``paths`` are then
            paths on it (not URIs). Default None: inferred from the first path.
        columns: the columns to read (the others are never loaded). Default None:
            all of them.

    Returns:
        A Dataset.

    Raises:
        FileNotFoundError: a path does not exist, or a directory holds no parquet
            file.
        ValueError: ``paths`` is empty, or a file is not Parquet.
        KeyError: a name in ``columns`` is not in a file (the message lists its
            columns).
    """
    fs, files = resolve_files(paths, (".parquet", ".parq"), filesystem)
    target = DataContext.get_current().target_block_rows
    return Dataset(parquet_tasks(fs, files, columns, target))


def read_csv(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    """CSV files with a header row; column types are inferred (pyarrow.csv defaults).

    One block per file, read by a task when the dataset runs (nothing is read now;
    an unreadable file raises ValueError, naming it, at execution). Ray's other
    arguments (``override_num_blocks``, ``partitioning``, ``include_paths``...) are not
    accepted.

    Args:
        paths: a file, a directory, or a list of them: local paths (``~`` expanded,
            relative ones from the current directory) or URIs pyarrow.fs opens
            (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``, ``file:///...``).
            A directory is searched recursively for ``.csv`` files, skipping
            names that start with ``.`` or ``_``; a file named directly is read
            whatever its extension. Every path is read through one filesystem: the
            first path's (or ``filesystem``).
        filesystem: a ``pyarrow.fs.FileSystem`` to read from; ``paths`` are then
            paths on it (not URIs). Default None: inferred from the first path.

    Returns:
        A Dataset.

    Raises:
        FileNotFoundError: a path does not exist, or a directory holds no ``.csv``
            file.
        ValueError: ``paths`` is empty.
    """
    fs, files = resolve_files(paths, (".csv",), filesystem)
    return Dataset([ReadTask(fs, path, "csv") for path in files])


def read_json(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    """JSON-lines files (one object per line).

    One block per file, read by a task when the dataset runs (nothing is read now;
    an unreadable file raises ValueError, naming it, at execution). Ray's other
    arguments (``override_num_blocks``, ``partitioning``, ``include_paths``...) are not
    accepted.

    Args:
        paths: a file, a directory, or a list of them: local paths (``~`` expanded,
            relative ones from the current directory) or URIs pyarrow.fs opens
            (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``, ``file:///...``).
            A directory is searched recursively for ``.json`` / ``.jsonl`` files,
            skipping names that start with ``.`` or ``_``; a file named directly is read
            whatever its extension. Every path is read through one filesystem: the
            first path's (or ``filesystem``).
        filesystem: a ``pyarrow.fs.FileSystem`` to read from; ``paths`` are then
            paths on it (not URIs). Default None: inferred from the first path.

    Returns:
        A Dataset.

    Raises:
        FileNotFoundError: a path does not exist, or a directory holds no ``.json``
            / ``.jsonl`` file.
        ValueError: ``paths`` is empty.
    """
    fs, files = resolve_files(paths, (".json", ".jsonl"), filesystem)
    return Dataset([ReadTask(fs, path, "json") for path in files])


def read_numpy(paths: str | list[str], *, filesystem: Any = None) -> Dataset:
    """``.npy`` files (``allow_pickle=False``): one row per first-axis entry of each
    array, in a column ``data``.

    One block per file, read by a task when the dataset runs (nothing is read now;
    an unreadable file raises ValueError, naming it, at execution). Ray's other
    arguments (``override_num_blocks``, ``partitioning``, ``include_paths``...) are not
    accepted.

    Args:
        paths: a file, a directory, or a list of them: local paths (``~`` expanded,
            relative ones from the current directory) or URIs pyarrow.fs opens
            (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``, ``file:///...``).
            A directory is searched recursively for ``.npy`` files, skipping
            names that start with ``.`` or ``_``; a file named directly is read
            whatever its extension. Every path is read through one filesystem: the
            first path's (or ``filesystem``).
        filesystem: a ``pyarrow.fs.FileSystem`` to read from; ``paths`` are then
            paths on it (not URIs). Default None: inferred from the first path.

    Returns:
        A Dataset.

    Raises:
        FileNotFoundError: a path does not exist, or a directory holds no ``.npy``
            file.
        ValueError: ``paths`` is empty.
    """
    fs, files = resolve_files(paths, (".npy",), filesystem)
    return Dataset([ReadTask(fs, path, "numpy") for path in files])
