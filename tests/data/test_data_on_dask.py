"""ember.data's main flow on the dask backend (real Dask worker processes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ember
from ember import data

pytestmark = pytest.mark.cluster


def test_read_transform_aggregate_write_on_dask(tmp_path):
    ember.shutdown()
    ember.init(backend="dask", num_cpus=2)
    try:
        data.DataContext.get_current().enable_progress_bars = False
        rng = np.random.default_rng(0)
        for i in range(3):
            pq.write_table(pa.table({"cat": rng.choice(["a", "b"], 100),
                                     "x": rng.random(100)}), tmp_path / f"part{i}.parquet")
        ds = data.read_parquet(str(tmp_path)).map_batches(
            lambda b: {"cat": b["cat"], "x2": b["x"] * 2})
        grouped = ds.groupby("cat").count().take_all()
        assert [g["count()"] for g in grouped] and sum(g["count()"] for g in grouped) == 300
        ds.write_parquet(str(tmp_path / "out"))
        assert data.read_parquet(str(tmp_path / "out")).count() == 300
        shares = ds.streaming_split(2)

        @ember.remote
        def consume(iterator):
            return sum(1 for _ in iterator.iter_rows())

        assert sum(ember.get([consume.remote(s) for s in shares])) == 300
    finally:
        ember.shutdown()
