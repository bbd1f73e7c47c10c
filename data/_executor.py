"""Streaming execution: blocks flow through stages as the consumer pulls them.

    sources ──stage 1 (fused transforms, one task per block)──> limit ──stage 2──> consumer
              at most max_blocks_in_flight blocks per stage exist at once; a stage only
              submits more work when its consumer takes a block (back-pressure)

Every stage keeps block order. A limit stops pulling from upstream once it has enough
rows, so no further upstream tasks are started.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from typing import Any, Self

import ember
from ember.exceptions import TaskError

from ._operator_errors import labels, make_readable
from ._transforms import Slice, run_chain

BlockStream = Iterator[tuple[Any, int]]  # (ObjectRef of a pyarrow.Table, its row count)


@ember.remote(num_returns=2)
def produce_block(source: Any, transforms: list[Any]) -> tuple[Any, tuple[int, int, float]]:
    """One task: read (or take) a block, then run the fused transforms on it; the second
    result is (rows, bytes, seconds), small enough to fetch for every block."""
    start = time.perf_counter()
    table = source() if callable(source) else source
    table = run_chain(table, transforms)
    return table, (table.num_rows, table.nbytes, time.perf_counter() - start)


class Stats:
    """Per-stage totals of one execution, for ``Dataset.stats()``."""

    def __init__(self) -> None:
        self.stages: dict[str, list[float]] = {}  # name -> [blocks, rows, bytes, task s]

    def record(self, stage: str, meta: tuple[int, int, float]) -> None:
        totals = self.stages.setdefault(stage, [0, 0, 0, 0.0])
        totals[0] += 1
        totals[1] += meta[0]
        totals[2] += meta[1]
        totals[3] += meta[2]

    def summary(self) -> str:
        if not self.stages:
            return "no stage has run yet"
        lines = []
        for name, (blocks, rows, nbytes, seconds) in self.stages.items():
            lines.append(f"{name}: {int(blocks)} blocks, {int(rows)} rows, "
                         f"{nbytes / 2**20:.1f} MiB, {seconds:.3f} s in tasks")
        return "\n".join(lines)


def stage_name(transforms: list[Any], first: bool) -> str:
    names = [getattr(t, "name", type(t).__name__) for t in transforms]
    return "->".join((["Read"] if first else []) + names) or "Read"


def source_stage(sources: list[Any], transforms: list[Any], window: int,
                 stats: Stats) -> BlockStream:
    """Blocks from read tasks (callables) or existing block refs, transformed."""
    if not transforms and all(isinstance(s, tuple) for s in sources):
        yield from sources  # materialized blocks: nothing to compute
        return
    yield from _windowed((s[0] if isinstance(s, tuple) else s for s in sources),
                         transforms, window, stats, stage_name(transforms, True))


def map_stage(upstream: BlockStream, transforms: list[Any], window: int, stats: Stats,
              resources: dict[str, Any] | None = None) -> BlockStream:
    return _windowed((ref for ref, _ in upstream), transforms, window, stats,
                     stage_name(transforms, False), resources)


def _windowed(inputs: Iterator[Any], transforms: list[Any], window: int, stats: Stats,
              name: str, resources: dict[str, Any] | None = None) -> BlockStream:
    pending: collections.deque[tuple[Any, Any]] = collections.deque()
    inputs = iter(inputs)
    task = produce_block.options(**resources) if resources else produce_block

    def submit() -> bool:
        for source in inputs:
            pending.append(task.remote(source, transforms))
            return True
        return False

    for _ in range(window):
        if not submit():
            break
    with _progress_bar(name, stats) as bar:
        while pending:
            block_ref, meta_ref = pending.popleft()
            try:
                meta = ember.get(meta_ref)
            except TaskError as error:
                make_readable(error, labels(transforms))
                raise
            stats.record(name, meta)
            bar.update(1)
            submit()  # the consumer took one: one more may start
            yield block_ref, meta[0]


class _NoBar:
    def update(self, count: int) -> None:
        """Progress bars are off."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _progress_bar(name: str, stats: Stats) -> Any:
    """A bar per running stage (one line each), when DataContext enables them."""
    from ._context import DataContext

    if not DataContext.get_current().enable_progress_bars:
        return _NoBar()
    from tqdm.auto import tqdm  # a widget in a notebook, a text bar in a terminal

    return tqdm(desc=name, unit="block", position=len(stats.stages), leave=False)


def limit_stage(upstream: BlockStream, limit: int) -> BlockStream:
    remaining = limit
    if remaining <= 0:
        return
    for block_ref, rows in upstream:
        if rows >= remaining:
            if rows > remaining:
                block_ref, meta_ref = produce_block.remote(block_ref, [Slice(0, remaining)])
                ember.get(meta_ref)
            yield block_ref, remaining
            return  # upstream is not pulled again: its remaining work never starts
        remaining -= rows
        yield block_ref, rows
