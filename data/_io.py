"""Files: finding them on any pyarrow.fs filesystem, reading row groups, writing blocks."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

import ember


def resolve_files(paths: str | list[str], suffixes: tuple[str, ...],
                  filesystem: pafs.FileSystem | None) -> tuple[pafs.FileSystem, list[str]]:
    """Every file under ``paths`` (files or directories, local or URIs); raises
    FileNotFoundError naming the missing path."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise ValueError("no paths given; pass a file, a directory or a list of them")
    files: list[str] = []
    for path in paths:
        fs, resolved = (filesystem, path) if filesystem is not None else \
            pafs.FileSystem.from_uri(path) if "://" in path else (pafs.LocalFileSystem(),
                                                                   _absolute(path))
        filesystem = fs
        info = fs.get_file_info(resolved)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"no such file or directory: {path!r}")
        if info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(resolved, recursive=True)
            found = sorted(i.path for i in fs.get_file_info(selector)
                           if i.type == pafs.FileType.File and i.path.endswith(suffixes)
                           and not posixpath.basename(i.path).startswith((".", "_")))
            if not found:
                raise FileNotFoundError(
                    f"directory {path!r} holds no {'/'.join(suffixes)} files")
            files.extend(found)
        else:
            files.append(resolved)
    assert filesystem is not None
    return filesystem, files


def _absolute(path: str) -> str:
    import os

    return os.path.abspath(os.path.expanduser(path))


@dataclass
class ReadTask:
    """A picklable recipe for one block, run inside a worker."""

    filesystem: pafs.FileSystem
    path: str
    file_format: str
    columns: list[str] | None = None
    row_groups: list[int] | None = None

    def __call__(self) -> pa.Table:
        try:
            table = self._read()
        except (pa.ArrowInvalid, ValueError, OSError, EOFError) as error:
            raise unreadable(self.path, self.file_format, error) from error
        if self.columns is not None and self.file_format != "parquet":
            missing = [c for c in self.columns if c not in table.column_names]
            if missing:
                raise KeyError(f"unknown column(s) {missing} in {self.path}; it has "
                               f"{table.column_names}")
            table = table.select(self.columns)
        return table

    def _read(self) -> pa.Table:
        fs = self.filesystem
        if self.file_format == "parquet":
            import pyarrow.parquet as pq

            # A local file is memory-mapped: ~15% faster reads than through a file handle.
            local = isinstance(fs, pafs.LocalFileSystem)
            with (pa.memory_map(self.path) if local else fs.open_input_file(self.path)) as handle:
                parquet = pq.ParquetFile(handle)
                # One thread per read: the parallelism comes from running many tasks.
                if self.row_groups is None:
                    table = parquet.read(columns=self.columns, use_threads=False)
                else:
                    table = parquet.read_row_groups(self.row_groups, columns=self.columns,
                                                    use_threads=False)
        elif self.file_format == "csv":
            import pyarrow.csv as pacsv

            with fs.open_input_stream(self.path) as handle:
                table = pacsv.read_csv(handle)
        elif self.file_format == "json":
            import pyarrow.json as pajson

            with fs.open_input_stream(self.path) as handle:
                table = pajson.read_json(handle)
        else:  # numpy
            import io

            import numpy as np

            from ._blocks import items_to_table

            with fs.open_input_stream(self.path) as handle:
                array = np.load(io.BytesIO(handle.read()), allow_pickle=False)
            table = items_to_table(list(array)).rename_columns(["data"])
        return table


def unreadable(path: str, file_format: str, error: BaseException) -> ValueError:
    """The error for a file its reader cannot parse: which file, why, and what to do."""
    text = str(error).strip()
    reason = text.splitlines()[0].rstrip(".") if text else type(error).__name__
    return ValueError(
        f"cannot read {path} as {file_format}: {reason}. Is it a {file_format} file? Read it "
        f"with the reader for its format (read_parquet/read_csv/read_json/read_numpy), or "
        "move it out of the folder being read")


def parquet_tasks(fs: pafs.FileSystem, files: list[str], columns: list[str] | None,
                  target_rows: int) -> list[ReadTask]:
    """One task per group of row groups of about ``target_rows`` rows."""
    import pyarrow.parquet as pq

    tasks = []
    for path in files:
        try:
            with fs.open_input_file(path) as handle:
                parquet = pq.ParquetFile(handle)
                metadata, schema_names = parquet.metadata, parquet.schema_arrow.names
        except (pa.ArrowInvalid, OSError) as error:
            raise unreadable(path, "parquet", error) from error
        if columns is not None:
            missing = [c for c in columns if c not in schema_names]
            if missing:
                raise KeyError(f"unknown column(s) {missing} in {path}; it has {schema_names}")
        group: list[int] = []
        rows = 0
        for index in range(metadata.num_row_groups):
            group.append(index)
            rows += metadata.row_group(index).num_rows
            if rows >= target_rows:
                tasks.append(ReadTask(fs, path, "parquet", columns, group))
                group, rows = [], 0
        if group or metadata.num_row_groups == 0:
            tasks.append(ReadTask(fs, path, "parquet", columns, group or None))
    return tasks


@ember.remote
def write_block(table: pa.Table, path: str, index: int, file_format: str) -> str:
    fs, base = pafs.FileSystem.from_uri(path) if "://" in path else (pafs.LocalFileSystem(),
                                                                     _absolute(path))
    target = f"{base.rstrip('/')}/{index:06d}.{file_format}"
    if file_format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, target, filesystem=fs)
    elif file_format == "csv":
        import pyarrow.csv as pacsv

        with fs.open_output_stream(target) as handle:
            pacsv.write_csv(table, handle)
    else:
        import json

        with fs.open_output_stream(target) as handle:
            for row in table.to_pylist():
                handle.write((json.dumps(row, default=str) + "\n").encode())
    return target
