"""``Checkpoint``: a directory of files, local or on any filesystem pyarrow.fs opens.

A checkpoint is only a (filesystem, path) pair, so it pickles small and travels by ref
between train workers, tune trials and serve replicas; the files are read where they are
needed (``as_directory`` / ``to_directory``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


def resolve(path: str | os.PathLike[str], filesystem: Any = None) -> tuple[Any, str]:
    """(pyarrow filesystem, path on it) for a local path or a URI such as ``s3://b/k``."""
    import pyarrow.fs as pafs  # type: ignore[import-untyped]  # pyarrow ships no type stubs

    path = os.fspath(path)
    if filesystem is not None:
        return filesystem, path
    if "://" not in path:
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    try:
        filesystem, inner = pafs.FileSystem.from_uri(path)
    except Exception as error:  # pyarrow raises ArrowInvalid / OSError by scheme
        raise ValueError(f"cannot open storage {path!r}: {error}. Use a local folder or a URI "
                         "pyarrow.fs understands (file://, s3://, gs://, hdfs://).") from error
    return filesystem, str(inner)


def is_local(filesystem: Any) -> bool:
    import pyarrow.fs as pafs

    return isinstance(filesystem, pafs.LocalFileSystem)


def copy_tree(source_fs: Any, source: str, target_fs: Any, target: str) -> None:
    """Copy a directory between filesystems (creating ``target``)."""
    import pyarrow.fs as pafs

    target_fs.create_dir(target, recursive=True)
    if is_local(source_fs) and is_local(target_fs):
        shutil.copytree(source, target, dirs_exist_ok=True)
        return
    pafs.copy_files(source, target, source_filesystem=source_fs,
                    destination_filesystem=target_fs, use_threads=False)


class Checkpoint:
    """A directory holding a model's state.

    Example::

        with tempfile.TemporaryDirectory() as d:
            torch.save(model.state_dict(), os.path.join(d, "model.pt"))
            ember.train.report({"loss": loss}, checkpoint=Checkpoint.from_directory(d))

        with result.checkpoint.as_directory() as d:
            model.load_state_dict(torch.load(os.path.join(d, "model.pt")))

    ``Checkpoint(path)`` refers to the directory at ``path`` as it is (nothing is
    copied or checked).

    Args:
        path: a local directory (``~`` expanded, made absolute) or a URI pyarrow.fs
            opens (``s3://bucket/ckpt``, ``gs://...``); with ``filesystem``, a path on
            it.
        filesystem: a ``pyarrow.fs.FileSystem`` holding ``path``. Default None:
            inferred from ``path``.

    Raises:
        ValueError: a URI pyarrow.fs cannot open.
    """

    def __init__(self, path: str | os.PathLike[str], filesystem: Any = None):
        self.filesystem, self.path = resolve(path, filesystem)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """A checkpoint of a local directory (``report`` copies it into storage).

        Args:
            path: an existing local directory, or a URI (not checked).

        Raises:
            ValueError: a local ``path`` that is not a directory.
        """
        path = os.fspath(path)
        if "://" not in path and not os.path.isdir(path):
            raise ValueError(f"Checkpoint.from_directory({path!r}): no such directory")
        return cls(path)

    def to_directory(self, path: str | os.PathLike[str] | None = None) -> str:
        """Copy the files into ``path`` (a new temporary folder when None); return it.

        Args:
            path: a local directory (created if missing; files already there of the
                same names are overwritten). Default None: a new temporary folder,
                which the caller removes.

        Returns:
            The directory the files are in.
        """
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="checkpoint-")
        import pyarrow.fs as pafs

        copy_tree(self.filesystem, self.path, pafs.LocalFileSystem(), os.path.abspath(target))
        return target

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """A local folder with the files: the checkpoint itself when it is local (do not
        modify it), else a temporary copy removed on exit."""
        if is_local(self.filesystem):
            yield self.path
            return
        folder = self.to_directory()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and (self.path, type(self.filesystem)) == (
            other.path, type(other.filesystem))

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        where = "" if is_local(self.filesystem) else f", {type(self.filesystem).__name__}"
        return f"Checkpoint({self.path!r}{where})"
