"""Dataset.split: n parts, each non-empty whenever there are at least n rows."""

from __future__ import annotations

import pytest

from ember import data

pytestmark = pytest.mark.usefixtures("session")


@pytest.mark.parametrize("rows,blocks,n", [
    (101, 1, 2), (101, None, 2), (5, 1, 3), (3, 1, 3), (10, 2, 4), (100, 10, 3),
    (1000, 3, 7),
])
def test_every_part_is_non_empty_and_every_row_appears_once(rows, blocks, n):
    dataset = data.range(rows) if blocks is None else data.range(rows).repartition(blocks)
    parts = dataset.split(n)
    counts = [part.count() for part in parts]
    assert len(parts) == n and min(counts) > 0, counts
    assert max(counts) - min(counts) <= max(rows // n, 1)  # roughly balanced
    seen = sorted(row["id"] for part in parts for row in part.take_all())
    assert seen == list(range(rows))


def test_fewer_rows_than_parts_leaves_the_rest_empty():
    counts = [part.count() for part in data.range(2).split(3)]
    assert sorted(counts) == [0, 1, 1] or sorted(counts) == [0, 0, 2]
    assert sum(counts) == 2


@pytest.mark.parametrize("rows,n", [(101, 2), (10, 3), (7, 7)])
def test_equal_parts_have_the_same_size_and_drop_at_most_n_minus_1_rows(rows, n):
    parts = data.range(rows).split(n, equal=True)
    counts = [part.count() for part in parts]
    assert counts == [rows // n] * n
    seen = [row["id"] for part in parts for row in part.take_all()]
    assert len(set(seen)) == len(seen) == rows - rows % n


def test_split_after_a_filter_counts_the_filtered_rows():
    parts = data.range(100).filter(lambda row: row["id"] % 10 == 0).split(3)
    assert sorted(r["id"] for p in parts for r in p.take_all()) == list(range(0, 100, 10))
    assert min(p.count() for p in parts) > 0
