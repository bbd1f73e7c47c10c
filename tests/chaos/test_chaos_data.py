"""A data pipeline with a groupby while workers are SIGKILLed: exact results."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tests_support.chaos import (
    RandomKiller,
    live,
    on_dask,
    replace_killed_dask_workers,
    worker_pids,
)

import ember
from ember import data


def _write_input(folder, files: int = 16, rows: int = 10_000) -> pa.Table:
    rng = np.random.default_rng(7)
    parts = []
    for index in range(files):
        part = pa.table({"key": rng.integers(0, 50, rows), "x": rng.random(rows)})
        pq.write_table(part, folder / f"{index}.parquet")
        parts.append(part)
    return pa.concat_tables(parts)


def _expected(table: pa.Table) -> dict[int, tuple[float, int]]:
    doubled = table.append_column("y", pc.multiply(table["x"], 2.0))
    grouped = doubled.group_by("key").aggregate([("y", "sum"), ("y", "count")])
    return {k: (s, c) for k, s, c in zip(grouped["key"].to_pylist(),
                                         grouped["y_sum"].to_pylist(),
                                         grouped["y_count"].to_pylist())}


def _slow_double(batch):
    import time

    time.sleep(0.05)  # long enough for kills to land mid-pipeline
    return {"key": batch["key"], "y": batch["x"] * 2.0}


def _groupby_under_kills(source, expected, seed: int, kills: int, **killer_options) -> None:
    with RandomKiller(max_kills=kills, seed=seed, max_gap_s=0.15, **killer_options) as killer:
        result = (data.read_parquet(str(source))
                  .map_batches(_slow_double)
                  .groupby("key").aggregate(("sum", "y"), ("count", "y"))
                  .take_all())
    got = {row["key"]: (row["sum(y)"], row["count()"]) for row in result}
    assert got.keys() == expected.keys()
    for key, (total, count) in expected.items():
        assert got[key][1] == count
        assert abs(got[key][0] - total) <= 1e-9 * max(1.0, abs(total))
    assert killer.error is None and killer.killed, "no worker was killed mid-run"


def test_a_groupby_pipeline_survives_worker_kills_with_exact_results(tmp_path, repeats):
    source = tmp_path / "in"
    source.mkdir()
    expected = _expected(_write_input(source))
    ember.shutdown()
    ember.init(num_cpus=2)
    try:
        for round_ in range(repeats):
            _groupby_under_kills(source, expected, round_, 3, targets=worker_pids)
    finally:
        ember.shutdown()


@pytest.mark.cluster
def test_a_groupby_pipeline_on_dask_survives_worker_kills_with_exact_results(tmp_path, repeats):
    source = tmp_path / "in"
    source.mkdir()
    expected = _expected(_write_input(source))
    with on_dask(workers=3) as (address, processes):
        for round_ in range(repeats):
            # Dask re-runs a task lost with its worker (allowed-failures: 3), and every
            # killed worker is replaced, so the cluster keeps its size.
            _groupby_under_kills(source, expected, round_, 2, targets=live(processes),
                                 on_kill=replace_killed_dask_workers(address, processes))


def test_ten_times_the_store_flows_through_a_small_one(tmp_path, repeats):
    ember.shutdown()
    ember.init(num_cpus=2, object_store_memory=32 * 1024 * 1024)
    try:
        for _ in range(repeats):
            rows = 40_000_000 // 8  # 320 MB of float64: 10x the store
            total = data.range(rows).map_batches(
                lambda b: {"v": b["id"].astype("float64")}).sum("v")
            assert total == rows * (rows - 1) / 2
    finally:
        ember.shutdown()
