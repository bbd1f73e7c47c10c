"""All-to-all operations: a map wave splits every block into parts, a reduce wave
combines part j of every block into output block j. Data moves between tasks through
the object store; the driver only sees refs and a few sampled keys.

    random_shuffle  rows go to random parts; each output is permuted again
    sort            parts by key ranges (boundaries from sampled keys); outputs sorted
    groupby         partial aggregates per block, then parts by key ranges, then combined
                    (output sorted by key; a few parts: shuffling 10 keys needs no 200)
    repartition     outputs are contiguous row ranges (order kept)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import ember
from ember.exceptions import TaskError

from ._operator_errors import make_readable, missing_columns

Bundles = list[tuple[Any, int]]

_AGGREGATES = ("count", "sum", "mean", "min", "max", "std")


@ember.remote
def _partition(table: pa.Table, how: str, params: Any, parts: int, seed_index: int) -> Any:
    if how == "random":
        rng = np.random.default_rng(None if params is None else [params, seed_index])
        target = rng.integers(0, parts, table.num_rows)
    else:  # "range": params = (key column, boundaries)
        key, boundaries = params
        values = table.column(key).to_numpy(zero_copy_only=False)
        target = np.searchsorted(np.asarray(boundaries, dtype=values.dtype), values, side="right") \
            if len(boundaries) else np.zeros(table.num_rows, dtype=np.int64)
    pieces = [table.filter(pa.array(target == j)) for j in range(parts)]
    return pieces if parts > 1 else pieces[0]


@ember.remote(num_returns=2)
def _combine(how: str, params: Any, seed_index: int, *pieces: pa.Table) -> tuple[pa.Table, int]:
    table = pa.concat_tables(pieces, promote_options="default") if pieces else pa.table({})
    if how == "random" and table.num_rows:
        rng = np.random.default_rng(None if params is None else [params, 1_000_003 + seed_index])
        table = table.take(pa.array(rng.permutation(table.num_rows)))
    elif how == "sort":
        key, descending = params
        table = table.sort_by([(key, "descending" if descending else "ascending")])
    elif how == "groupby":
        table = _finish_groups(table, *params)
    return table, table.num_rows


@ember.remote
def _sample(table: pa.Table, key: str, count: int, label: str) -> list[Any]:
    error = missing_columns([key], table.column_names, label)
    if error is not None:
        raise error
    if not table.num_rows:
        return []
    column = table.column(key).to_numpy(zero_copy_only=False)
    picks = np.linspace(0, table.num_rows - 1, min(count, table.num_rows)).astype(int)
    return column[picks].tolist()


def _shuffle(bundles: Bundles, how: str, map_params: Any, reduce_how: str,
             reduce_params: Any, parts: int) -> Bundles:
    splits = [_partition.options(num_returns=parts).remote(ref, how, map_params, parts, i)
              for i, (ref, _) in enumerate(bundles)]
    splits = [s if isinstance(s, list) else [s] for s in splits]
    outputs = [_combine.remote(reduce_how, reduce_params, j, *[s[j] for s in splits])
               for j in range(parts)]
    return [(table, ember.get(rows)) for table, rows in outputs]


def random_shuffle(bundles: Bundles, seed: int | None) -> Bundles:
    return _shuffle(bundles, "random", seed, "random", seed, max(len(bundles), 1))


def _boundaries(bundles: Bundles, key: str, parts: int, label: str) -> list[Any]:
    """Key values splitting the rows into ``parts`` ranges; sampling is also where a
    missing key column is found, so the error names ``label``, the user's operator."""
    try:
        sampled = ember.get([_sample.remote(ref, key, 64, label) for ref, _ in bundles])
    except TaskError as error:
        make_readable(error, [label])
        raise
    samples = sorted(v for values in sampled for v in values)
    if not samples or parts <= 1:
        return []
    picks = [samples[int(len(samples) * q / parts)] for q in range(1, parts)]
    return sorted(set(picks))


def sort(bundles: Bundles, key: str, descending: bool) -> Bundles:
    parts = max(len(bundles), 1)
    boundaries = _boundaries(bundles, key, parts, f"sort({key!r})")
    out = _shuffle(bundles, "range", (key, boundaries), "sort", (key, descending),
                   len(boundaries) + 1)
    return out[::-1] if descending else out


def groupby(bundles: Bundles, keys: list[str], aggregates: list[tuple[str, str | None]],
            parts: int) -> Bundles:
    label = _groupby_label(keys, aggregates)
    partials = [_partial_groups.remote(ref, keys, aggregates, label)
                for ref, rows in bundles if rows]
    if not partials:
        return []
    partial_bundles = [(ref, 1) for ref in partials]
    boundaries = _boundaries(partial_bundles, keys[0], parts, label)
    return _shuffle(partial_bundles, "range", (keys[0], boundaries), "groupby",
                    (keys, aggregates), len(boundaries) + 1)


def _partial_columns(aggregates: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(column, pyarrow aggregation) pairs computed per block."""
    wanted: list[tuple[str, str]] = []
    for how, column in aggregates:
        if how == "count":
            wanted.append(("__rows", "sum"))
        elif how in ("sum", "mean", "std"):
            wanted += [(column, "sum"), (column, "count")]
            if how == "std":
                wanted.append((f"__sq_{column}", "sum"))
        else:
            wanted.append((column, how))
    return list(dict.fromkeys(wanted))


def _groupby_label(keys: list[str], aggregates: list[tuple[str, str | None]]) -> str:
    """``groupby('k').sum('x')`` as the user wrote it (``.aggregate(...)`` for several)."""
    grouped = f"groupby({', '.join(map(repr, keys))})"
    if len(aggregates) != 1:
        return f"{grouped}.aggregate(...)"
    how, column = aggregates[0]
    return f"{grouped}.{how}({'' if column is None else repr(column)})"


@ember.remote
def _partial_groups(table: pa.Table, keys: list[str], aggregates: list,
                    label: str) -> pa.Table:
    wanted = [*keys, *(column for _, column in aggregates if column is not None)]
    error = missing_columns(dict.fromkeys(wanted), table.column_names, label)
    if error is not None:
        raise error
    table = table.append_column("__rows", pa.array(np.ones(table.num_rows, dtype=np.int64)))
    for how, column in aggregates:
        if how == "std" and f"__sq_{column}" not in table.column_names:
            values = pc.cast(table.column(column), pa.float64())
            table = table.append_column(f"__sq_{column}", pc.multiply(values, values))
    return table.group_by(keys).aggregate(_partial_columns(aggregates))


def _finish_groups(partials: pa.Table, keys: list[str], aggregates: list) -> pa.Table:
    if not partials.num_rows:
        return partials
    merged = partials.group_by(keys).aggregate(
        [(f"{c}_{h}", "sum" if h in ("sum", "count") else h)
         for c, h in _partial_columns(aggregates)])
    columns = {key: merged.column(key) for key in keys}
    for how, column in aggregates:
        if how == "count":
            columns["count()"] = merged.column("__rows_sum_sum")
            continue
        total = merged.column(f"{column}_sum_sum") if how != "min" and how != "max" else None
        if how == "sum":
            columns[f"sum({column})"] = total
        elif how in ("min", "max"):
            columns[f"{how}({column})"] = merged.column(f"{column}_{how}_{how}")
        else:
            count = pc.cast(merged.column(f"{column}_count_sum"), pa.float64())
            mean = pc.divide(pc.cast(total, pa.float64()), count)
            if how == "mean":
                columns[f"mean({column})"] = mean
            else:
                squares = merged.column(f"__sq_{column}_sum_sum")
                variance = pc.divide(pc.subtract(squares, pc.multiply(mean, pc.multiply(
                    mean, count))), pc.subtract(count, 1.0))
                columns[f"std({column})"] = pc.sqrt(pc.max_element_wise(variance, 0.0))
    return pa.table(columns).sort_by([(key, "ascending") for key in keys])


def repartition(bundles: Bundles, parts: int) -> Bundles:
    from ._executor import produce_block
    from ._transforms import Slice

    total = sum(rows for _, rows in bundles)
    edges = [total * j // parts for j in range(parts + 1)]
    starts, position = [], 0
    for _, rows in bundles:
        starts.append(position)
        position += rows
    out = []
    for j in range(parts):
        low, high = edges[j], edges[j + 1]
        pieces = []
        for (ref, rows), start in zip(bundles, starts):
            if start < high and start + rows > low:
                lo, hi = max(low, start) - start, min(high, start + rows) - start
                pieces.append(ref if (lo, hi) == (0, rows) else
                              produce_block.remote(ref, [Slice(lo, hi)])[0])
        table, rows_ref = _combine.remote("concat", None, j, *pieces)
        out.append((table, ember.get(rows_ref)))
    return out
