"""Streaming execution: blocks flow through stages as the consumer pulls them.

    sources ──stage 1 (fused transforms, one task per block)──> limit ──stage 2──> consumer
              at most max_blocks_in_flight blocks per stage exist at once; a stage only
              submits more work when its consumer takes a block (back-pressure)

Every stage keeps block order. A limit stops pulling from upstream once it has enough
rows, so no further upstream tasks are started.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import ember

from ._transforms import Slice, run_chain

BlockStream = Iterator[tuple[Any, int]]  # (ObjectRef of a pyarrow.Table, its row count)


@ember.remote(num_returns=2)
def produce_block(source: Any, transforms: list[Any]) -> tuple[Any, int]:
    """One task: read (or take) a block, then run the fused transforms on it."""
    table = source() if callable(source) else source
    table = run_chain(table, transforms)
    return table, table.num_rows


def source_stage(sources: list[Any], transforms: list[Any], window: int) -> BlockStream:
    """Blocks from read tasks (callables) or existing block refs, transformed."""
    if not transforms and all(isinstance(s, tuple) for s in sources):
        yield from sources  # materialized blocks: nothing to compute
        return
    yield from _windowed((s[0] if isinstance(s, tuple) else s for s in sources),
                         transforms, window)


def map_stage(upstream: BlockStream, transforms: list[Any], window: int,
              resources: dict[str, Any] | None = None) -> BlockStream:
    return _windowed((ref for ref, _ in upstream), transforms, window, resources)


def _windowed(inputs: Iterator[Any], transforms: list[Any], window: int,
              resources: dict[str, Any] | None = None) -> BlockStream:
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
    while pending:
        block_ref, rows_ref = pending.popleft()
        rows = ember.get(rows_ref)
        submit()  # the consumer took one: one more may start
        yield block_ref, rows


def limit_stage(upstream: BlockStream, limit: int) -> BlockStream:
    remaining = limit
    if remaining <= 0:
        return
    for block_ref, rows in upstream:
        if rows >= remaining:
            if rows > remaining:
                block_ref, rows_ref = produce_block.remote(block_ref, [Slice(0, remaining)])
                ember.get(rows_ref)
            yield block_ref, remaining
            return  # upstream is not pulled again: its remaining work never starts
        remaining -= rows
        yield block_ref, rows
