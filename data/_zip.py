"""``zip``: the columns of two datasets side by side, aligned row by row."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

import ember


@ember.remote(num_returns=2)
def _zip_block(left: pa.Table, offsets: list[tuple[int, int]], *right: pa.Table) -> tuple[Any, int]:
    pieces = [table.slice(lo, hi - lo) for table, (lo, hi) in zip(right, offsets)]
    other = pa.concat_tables(pieces) if pieces else pa.table({})
    for name in other.column_names:
        column = name if name not in left.column_names else f"{name}_1"
        left = left.append_column(column, other.column(name))
    return left, left.num_rows


def zip_bundles(left: list[tuple[Any, int]], right: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    if sum(r for _, r in left) != sum(r for _, r in right):
        raise ValueError(
            f"zip needs datasets with the same number of rows, got "
            f"{sum(r for _, r in left)} and {sum(r for _, r in right)}")
    starts, position = [], 0
    for _, rows in right:
        starts.append(position)
        position += rows
    out, low = [], 0
    for ref, rows in left:
        high = low + rows
        parts, offsets = [], []
        for (other, other_rows), start in zip(right, starts):
            if start < high and start + other_rows > low:
                parts.append(other)
                offsets.append((max(low, start) - start, min(high, start + other_rows) - start))
        table, rows_ref = _zip_block.remote(ref, offsets, *parts)
        out.append((table, ember.get(rows_ref)))
        low = high
    return out
