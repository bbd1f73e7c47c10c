"""ember.data, first part: sources, fused transforms, streaming consumption, writers."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ember
from ember import data


@pytest.fixture(scope="module", autouse=True)
def session():  # type: ignore[no-untyped-def]
    ember.shutdown()
    ember.init(num_cpus=2)
    context = data.DataContext.get_current()
    saved = (context.target_block_rows, context.enable_progress_bars)
    context.enable_progress_bars = False
    yield
    context.target_block_rows, context.enable_progress_bars = saved
    ember.shutdown()


def test_sources_follow_ray_column_names():
    assert data.range(3).take_all() == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert data.from_items([5, 6]).take_all() == [{"item": 5}, {"item": 6}]
    assert data.from_items([{"a": 1}]).take_all() == [{"a": 1}]
    assert data.from_numpy(np.arange(3)).take_all() == [{"data": 0}, {"data": 1}, {"data": 2}]
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert data.from_pandas(frame).to_pandas().equals(frame)
    assert data.from_arrow(pa.table({"y": [1]})).take_all() == [{"y": 1}]


def test_nothing_runs_until_consumed(tmp_path):
    marker = tmp_path / "ran"

    def touch(batch):
        marker.touch()
        return batch

    ds = data.range(10).map_batches(touch)
    assert not marker.exists()
    assert ds.count() == 10 and marker.exists()


def test_map_batches_formats_and_fusion():
    ds = data.range(100, override_num_blocks=4)
    doubled = ds.map_batches(lambda b: {"id": b["id"], "y": b["id"] * 2})
    tripled = doubled.map_batches(lambda t: t.append_column("z", pa.compute.multiply(
        t.column("id"), 3)), batch_format="pyarrow")
    frame = tripled.map_batches(lambda df: df.assign(w=df["z"] + 1), batch_format="pandas")
    assert repr(frame).endswith("map(3))"), "adjacent maps fuse into one stage"
    rows = frame.take_all()
    assert rows[7] == {"id": 7, "y": 14, "z": 21, "w": 22}
    assert frame.sum("w") == sum(3 * i + 1 for i in range(100))


def test_row_transforms_and_columns():
    ds = data.range(10).map(lambda r: {"id": r["id"], "sq": r["id"] ** 2})
    ds = ds.filter(lambda r: r["id"] % 2 == 0).flat_map(lambda r: [r, r])
    assert ds.count() == 10
    assert ds.select_columns(["sq"]).take(2) == [{"sq": 0}, {"sq": 0}]
    assert ds.drop_columns("sq").take(1) == [{"id": 0}]
    added = data.range(3).add_column("neg", lambda df: -df["id"])
    assert [r["neg"] for r in added.take_all()] == [0, -1, -2]


def test_callable_class_is_built_once_per_worker():
    class AddOffset:
        def __init__(self, offset):
            self.offset = offset
            self.pid = os.getpid()

        def __call__(self, batch):
            return {"v": batch["id"] + self.offset, "pid": np.full(len(batch["id"]), self.pid)}

    ds = data.range(40, override_num_blocks=8).map_batches(
        AddOffset, fn_constructor_args=(100,), batch_size=5)
    rows = ds.take_all()
    assert [r["v"] for r in rows] == list(range(100, 140))
    assert len({r["pid"] for r in rows}) <= 2


def test_iter_batches_rebatches_across_blocks():
    ds = data.range(10, override_num_blocks=3)
    sizes = [len(b["id"]) for b in ds.iter_batches(batch_size=4)]
    assert sizes == [4, 4, 2]
    assert [len(b["id"]) for b in ds.iter_batches(batch_size=4, drop_last=True)] == [4, 4]
    tables = list(ds.iter_batches(batch_size=5, batch_format="pyarrow"))
    assert all(isinstance(t, pa.Table) for t in tables)
    assert [r["id"] for r in ds.iter_rows()] == list(range(10))


def test_limit_stops_upstream_work(tmp_path):
    log = tmp_path / "blocks"

    def record(batch):
        with open(log, "a") as handle:
            handle.write("x")
        return batch

    ds = data.range(1000, override_num_blocks=100).map_batches(record, batch_size=None)
    data.DataContext.get_current().max_blocks_in_flight = 2
    try:
        assert ds.limit(15).count() == 15
    finally:
        data.DataContext.get_current().max_blocks_in_flight = 4
    assert len(log.read_text()) < 10, "blocks after the limit were never computed"


def test_materialize_keeps_blocks():
    ds = data.range(20, override_num_blocks=4).map_batches(lambda b: {"id": b["id"] + 1})
    materialized = ds.materialize()
    assert materialized.num_blocks() == 4
    assert materialized.sum("id") == sum(range(1, 21))
    assert materialized.schema().names == ["id"]


def test_parquet_round_trip_with_projection_and_row_groups(tmp_path):
    table = pa.table({"a": np.arange(1000), "b": np.arange(1000) * 0.5, "c": ["x"] * 1000})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=100)
    data.DataContext.get_current().target_block_rows = 250
    try:
        ds = data.read_parquet(str(tmp_path), columns=["a", "b"])
        assert ds.num_blocks() == 4, "row groups are split across read tasks"
    finally:
        data.DataContext.get_current().target_block_rows = 1_000_000
    assert ds.schema().names == ["a", "b"]
    ds.map_batches(lambda b: {"a": b["a"], "s": b["a"] + b["b"]}).write_parquet(
        str(tmp_path / "out"))
    written = sorted(os.listdir(tmp_path / "out"))
    assert len(written) == 4 and all(name.endswith(".parquet") for name in written)
    back = data.read_parquet(str(tmp_path / "out"))
    assert back.count() == 1000 and back.sum("s") == float(sum(i * 1.5 for i in range(1000)))


def test_csv_json_numpy_sources_and_writers(tmp_path):
    data.from_items([{"k": i, "v": i * i} for i in range(5)]).write_csv(str(tmp_path / "csv"))
    assert data.read_csv(str(tmp_path / "csv")).sum("v") == 30
    data.range(4).write_json(str(tmp_path / "json"))
    lines = next((tmp_path / "json").iterdir()).read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2, 3]
    assert data.read_json(str(tmp_path / "json")).count() == 4
    np.save(tmp_path / "arr.npy", np.arange(6).reshape(3, 2))
    rows = data.read_numpy(str(tmp_path / "arr.npy")).take_all()
    assert [list(r["data"]) for r in rows] == [[0, 1], [2, 3], [4, 5]]


ERRORS = {
    "missing path": (lambda tmp: data.read_parquet(str(tmp / "nope")), FileNotFoundError, "nope"),
    "unknown column": (lambda tmp: data.range(3).select_columns(["zz"]).take_all(), KeyError, "zz"),
    "batch_format typo": (lambda tmp: data.range(3).map_batches(lambda b: b, batch_format="np"),
                          ValueError, "batch_format"),
    "UDF returns a list": (lambda tmp: data.range(3).map_batches(lambda b: [1, 2]).take_all(),
                           TypeError, "returned a list"),
    "bad limit": (lambda tmp: data.range(3).limit(-1), ValueError, "limit"),
}


@pytest.mark.parametrize("call,error,pattern", list(ERRORS.values()), ids=list(ERRORS))
def test_mistakes_give_clear_errors(call, error, pattern, tmp_path):
    with pytest.raises(error, match=pattern):
        call(tmp_path)


def test_udf_error_names_operator_and_rows():
    def explode(batch):
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch") as info:
        data.range(10).map_batches(explode, batch_size=5).take_all()
    assert "map_batches(explode)" in str(info.value) and "rows 0-5" in str(info.value)


def test_split_and_streaming_split_give_disjoint_shares():
    ds = data.range(100, override_num_blocks=10)
    assert sorted(d.count() for d in ds.split(2)) == [50, 50]
    assert [d.count() for d in ds.split(3, equal=True)] == [33, 33, 33]

    @ember.remote
    def consume(iterator):
        return [row["id"] for row in iterator.iter_rows()]

    shares = ember.get([consume.remote(it) for it in ds.streaming_split(2)])
    assert sorted(shares[0] + shares[1]) == list(range(100))
    assert not set(shares[0]) & set(shares[1])
    equal = ember.get([consume.remote(it) for it in ds.streaming_split(3, equal=True)])
    assert [len(share) for share in equal] == [33, 33, 33]


def test_streaming_split_iterators_run_a_new_pass_each_epoch():
    ds = data.range(40, override_num_blocks=4)

    @ember.remote
    def two_epochs(iterator):
        return [sorted(row["id"] for row in iterator.iter_rows()) for _ in range(2)]

    for equal in (False, True):
        first, second = ember.get([two_epochs.remote(it) for it in ds.streaming_split(2, equal=equal)])
        for epoch in range(2):
            assert sorted(first[epoch] + second[epoch]) == list(range(40)), (equal, epoch)


def test_iter_torch_batches():
    torch = pytest.importorskip("torch")
    batch = next(iter(data.range(8).iter_torch_batches(batch_size=4, dtypes=torch.float32)))
    assert batch["id"].dtype == torch.float32 and batch["id"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_random_shuffle_permutes_and_is_seeded():
    ds = data.range(200, override_num_blocks=4)
    first = [r["id"] for r in ds.random_shuffle(seed=7).take_all()]
    assert sorted(first) == list(range(200)) and first != list(range(200))
    assert first == [r["id"] for r in ds.random_shuffle(seed=7).take_all()]


def test_sort_ascending_and_descending():
    values = np.random.default_rng(0).permutation(500)
    ds = data.from_items([{"v": int(v)} for v in values], override_num_blocks=5)
    assert [r["v"] for r in ds.sort("v").take_all()] == list(range(500))
    assert [r["v"] for r in ds.sort("v", descending=True).take(3)] == [499, 498, 497]


def test_groupby_aggregates_match_pandas():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"cat": rng.choice(list("abcdefghij"), 1000), "x": rng.random(1000)})
    ds = data.from_pandas(frame).repartition(4)
    result = ds.groupby("cat").aggregate(("count", None), ("sum", "x"), ("mean", "x"),
                                         ("min", "x"), ("max", "x"), ("std", "x")).to_pandas()
    expected = frame.groupby("cat")["x"].agg(["count", "sum", "mean", "min", "max", "std"])
    assert list(result["cat"]) == sorted(expected.index)
    for how in ("count", "sum", "mean", "min", "max", "std"):
        column = "count()" if how == "count" else f"{how}(x)"
        np.testing.assert_allclose(result[column].to_numpy(), expected[how].to_numpy())
    assert ds.groupby("cat").mean("x").schema().names == ["cat", "mean(x)"]


def test_repartition_union_zip_keep_rows_in_order():
    ds = data.range(10, override_num_blocks=3)
    assert ds.repartition(4).num_blocks() == 4
    assert [r["id"] for r in ds.repartition(4).iter_rows()] == list(range(10))
    assert [r["id"] for r in ds.union(data.range(2)).iter_rows()] == [*range(10), 0, 1]
    zipped = ds.zip(data.range(10).map_batches(lambda b: {"y": b["id"] * 10}))
    assert zipped.take(2) == [{"id": 0, "y": 0}, {"id": 1, "y": 10}]
    with pytest.raises(ValueError, match="same number of rows"):
        ds.zip(data.range(3)).count()
    with pytest.raises(ValueError, match="unknown aggregate"):
        ds.groupby("id").aggregate(("median", "id"))


class _PidModel:
    def __init__(self, offset=0):
        self.offset = offset
        self.pid = os.getpid()

    def __call__(self, batch):
        return {"id": batch["id"] + self.offset, "pid": np.full(len(batch["id"]), self.pid)}


def test_actor_pool_runs_a_class_once_per_actor_in_order():
    ds = data.range(100, override_num_blocks=10).map_batches(
        _PidModel, fn_constructor_kwargs={"offset": 1},
        compute=data.ActorPoolStrategy(min_size=1, max_size=2))
    rows = ds.take_all()
    assert [r["id"] for r in rows] == list(range(1, 101))
    assert 1 <= len({r["pid"] for r in rows}) <= 2
    assert data.range(10, override_num_blocks=2).map_batches(_PidModel, concurrency=2).count() == 10


def test_map_batches_resources_are_checked():
    assert data.range(4).map_batches(lambda b: b, num_cpus=0.5).count() == 4
    with pytest.raises(ember.InfeasibleResourcesError):
        data.range(4).map_batches(lambda b: b, num_gpus=1).count()
    with pytest.raises(ValueError, match="callable class"):
        data.range(4).map_batches(lambda b: b, compute=data.ActorPoolStrategy(size=1))
    with pytest.raises(ValueError, match="min_size"):
        data.ActorPoolStrategy(min_size=3, max_size=1)


def test_stats_report_each_stage():
    ds = data.range(100, override_num_blocks=4).map_batches(lambda b: b).random_shuffle()
    assert ds.stats() == "no stage has run yet"
    ds.count()
    stats = ds.stats()
    assert "Read->MapBatches(<lambda>): 4 blocks, 100 rows" in stats


def test_a_dataset_larger_than_the_store_streams_without_spilling():
    from tests_support import store_stats

    ember.shutdown()
    ember.init(num_cpus=2, object_store_memory=64 << 20)
    context = data.DataContext.get_current()
    context.target_block_rows = 500_000  # 4 MB blocks; 160 MB flow through a 64 MB store
    try:
        ds = data.range(20_000_000).map_batches(lambda b: {"y": b["id"] * 2}, batch_size=None)
        total = 0
        for batch in ds.iter_batches(batch_size=None):
            total += len(batch["y"])
            assert store_stats()["arena_bytes_used"] <= 64 << 20
        assert total == 20_000_000
        assert store_stats()["spilled_total"] == 0, "back-pressure kept it in memory"
    finally:
        context.target_block_rows = 1_000_000
        ember.shutdown()
        ember.init(num_cpus=2)


def test_reads_any_pyarrow_filesystem_uri(tmp_path):
    pq.write_table(pa.table({"a": [1, 2, 3]}), tmp_path / "t.parquet")
    assert data.read_parquet(f"file://{tmp_path}").sum("a") == 6


def test_progress_bars_can_be_switched_on(capsys):
    context = data.DataContext.get_current()
    context.enable_progress_bars = True
    try:
        assert data.range(10, override_num_blocks=2).map_batches(lambda b: b).count() == 10
    finally:
        context.enable_progress_bars = False
    assert "Read->MapBatches" in capsys.readouterr().err


def test_vector_columns_are_2d_arrays_in_numpy_batches(tmp_path):
    rows = [{"x": np.full(3, i, dtype=np.float32), "y": i} for i in range(4)]
    batch = next(iter(data.from_items(rows).iter_batches(batch_size=None)))
    assert batch["x"].shape == (4, 3) and batch["x"].dtype == np.float32
    pq.write_table(pa.table({"v": [[1.0, 2.0], [3.0, 4.0]], "ragged": [[1], [2, 3]]}),
                   tmp_path / "lists.parquet")
    batch = next(iter(data.read_parquet(str(tmp_path)).iter_batches(batch_size=None)))
    assert batch["v"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert batch["ragged"].dtype == object  # rows of different lengths stay per-row arrays
