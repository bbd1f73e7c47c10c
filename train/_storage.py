"""A run's folder in storage and the checkpoints in it.

    storage_path/name/
        checkpoint_000000/   one folder per persisted report(checkpoint=...)
        checkpoint_000001/
        ...

Rank 0 copies a reported checkpoint under a temporary name (``checkpoint_NNNNNN.partial``)
and the driver renames it once every rank has made that report, so neither a crash
mid-copy nor a report a dead rank never reached leaves a checkpoint that looks whole. The driver keeps the
list and prunes it (``CheckpointConfig``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._checkpoint import Checkpoint, copy_tree, resolve
from ._config import CheckpointConfig


@dataclass(frozen=True)
class RunStorage:
    """Where one run's files go; picklable, so workers persist checkpoints themselves."""

    filesystem: Any
    run_path: str

    @classmethod
    def open(cls, storage_path: str, name: str) -> RunStorage:
        filesystem, root = resolve(storage_path)
        run_path = f"{root.rstrip('/')}/{name}"
        filesystem.create_dir(run_path, recursive=True)
        return cls(filesystem, run_path)

    def checkpoint_path(self, index: int) -> str:
        return f"{self.run_path}/checkpoint_{index:06d}"

    def staging_path(self, index: int) -> str:
        return f"{self.checkpoint_path(index)}.partial"

    def stage(self, checkpoint: Checkpoint, index: int) -> None:
        """Copy ``checkpoint`` in under a temporary name (``commit`` makes it number
        ``index``): a report every rank has not made yet leaves no checkpoint that looks
        whole, so a restart never resumes from it."""
        partial = self.staging_path(index)
        self.filesystem.delete_dir_contents(partial, missing_dir_ok=True)
        copy_tree(checkpoint.filesystem, checkpoint.path, self.filesystem, partial)

    def commit(self, index: int) -> Checkpoint:
        """Rename the staged checkpoint ``index`` into place; durable on return."""
        target = self.checkpoint_path(index)
        self.filesystem.delete_dir_contents(target, missing_dir_ok=True)
        self.filesystem.move(self.staging_path(index), target)
        return Checkpoint(target, self.filesystem)

    def persist(self, checkpoint: Checkpoint, index: int) -> Checkpoint:
        """Copy ``checkpoint`` into this run as number ``index``; durable on return."""
        self.stage(checkpoint, index)
        return self.commit(index)

    def delete(self, checkpoint: Checkpoint) -> None:
        self.filesystem.delete_dir_contents(checkpoint.path, missing_dir_ok=True)
        self.filesystem.delete_dir(checkpoint.path)

    def uri(self) -> str:
        return self.run_path


@dataclass
class TrackedCheckpoint:
    checkpoint: Checkpoint
    metrics: dict[str, Any]
    index: int


@dataclass
class CheckpointManager:
    """Keeps the reported checkpoints' list and deletes the ones ``config`` gives up."""

    config: CheckpointConfig
    storage: RunStorage
    tracked: list[TrackedCheckpoint] = field(default_factory=list)

    @property
    def latest(self) -> Checkpoint | None:
        return self.tracked[-1].checkpoint if self.tracked else None

    @property
    def next_index(self) -> int:
        return self.tracked[-1].index + 1 if self.tracked else 0

    def register(self, checkpoint: Checkpoint, metrics: dict[str, Any], index: int) -> None:
        self.tracked.append(TrackedCheckpoint(checkpoint, dict(metrics), index))
        keep = self.config.num_to_keep
        if keep is None or len(self.tracked) <= keep:
            return
        latest = self.tracked[-1]
        ranked = self.best()
        kept = {id(t) for t in ranked[:keep]} | {id(latest)}
        for tracked in [t for t in self.tracked if id(t) not in kept]:
            self.storage.delete(tracked.checkpoint)
            self.tracked.remove(tracked)

    def best(self) -> list[TrackedCheckpoint]:
        """Best first: by the score attribute when set (missing scores last), else newest."""
        attribute = self.config.checkpoint_score_attribute
        if attribute is None:
            return list(reversed(self.tracked))
        sign = 1.0 if self.config.checkpoint_score_order == "max" else -1.0

        def score(tracked: TrackedCheckpoint) -> tuple[float, int]:
            value = tracked.metrics.get(attribute)
            number = float(value) if isinstance(value, (int, float)) else math.nan
            return (-sign * number if not math.isnan(number) else math.inf, -tracked.index)

        return sorted(self.tracked, key=score)

    def best_checkpoints(self) -> list[tuple[Checkpoint, dict[str, Any]]]:
        return [(t.checkpoint, t.metrics) for t in self.best()]


def next_free_index(storage: RunStorage) -> int:
    """After the highest checkpoint number already in the run's folder (restored runs)."""
    import pyarrow.fs as pafs  # type: ignore[import-untyped]  # pyarrow ships no type stubs

    try:
        infos = storage.filesystem.get_file_info(pafs.FileSelector(storage.run_path))
    except (FileNotFoundError, OSError):
        return 0
    prefix = "checkpoint_"
    numbers = [int(info.base_name[len(prefix):]) for info in infos
               if info.base_name.startswith(prefix) and info.base_name[len(prefix):].isdigit()]
    return max(numbers) + 1 if numbers else 0
