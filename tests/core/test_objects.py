"""The object store: zero-copy reads, immutability, freeing, spilling."""

from __future__ import annotations

import os

import numpy as np
import pytest
from ember.core._context import current
from tests_support import store_stats, wait_for

import ember

pytestmark = pytest.mark.usefixtures("session")

MB = 1 << 20


@ember.remote
def describe(array):
    return int(array.sum()), array.flags.writeable, _address(array)


def _address(array) -> int:
    return array.__array_interface__["data"][0]


@pytest.mark.parametrize("value", [
    None, 0, -7, 3.5, "text", b"bytes", [1, [2, {"k": (3,)}]], {"set": {1, 2}},
    np.arange(10), np.zeros((300, 300)),
], ids=lambda v: type(v).__name__)
def test_put_get_round_trips(value):
    result = ember.get(ember.put(value))
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(result, value)
    else:
        assert result == value


def test_large_numpy_arrays_come_back_as_read_only_shared_views():
    ref = ember.put(np.arange(4 * MB, dtype=np.uint8))
    first, second = ember.get(ref), ember.get(ref)
    assert not first.flags.writeable
    assert _address(first) == _address(second), "both gets map the same shared memory"
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1


def test_workers_read_large_arguments_in_place():
    array = np.ones(2 * MB, dtype=np.int8)
    ref = ember.put(array)
    total, writeable, _ = ember.get(describe.remote(ref))
    assert (total, writeable) == (2 * MB, False)


def test_worker_results_are_zero_copy_in_the_driver():
    @ember.remote
    def make():
        return np.full(MB, 7, dtype=np.int32)

    ref = make.remote()
    assert _address(ember.get(ref)) == _address(ember.get(ref))


def test_arrow_tables_are_zero_copy():
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"x": np.arange(MB, dtype=np.int64)})
    ref = ember.put(table)
    first, second = ember.get(ref), ember.get(ref)
    assert first.equals(table)
    address = first.column("x").chunks[0].buffers()[1].address
    assert address == second.column("x").chunks[0].buffers()[1].address


def test_torch_tensors_are_zero_copy():
    torch = pytest.importorskip("torch")
    tensor = torch.arange(MB, dtype=torch.float32)
    ref = ember.put(tensor)
    first, second = ember.get(ref), ember.get(ref)
    assert torch.equal(first, tensor)
    assert first.data_ptr() == second.data_ptr()

    @ember.remote
    def tensor_sum(t):
        return float(t.sum())

    assert ember.get(tensor_sum.remote(ref)) == float(tensor.sum())


def test_objects_are_immutable_snapshots():
    values = [1, 2, 3]
    array = np.zeros(MB)
    ref_list, ref_array = ember.put(values), ember.put(array)
    values.append(4)
    array[0] = 99
    assert ember.get(ref_list) == [1, 2, 3]
    assert ember.get(ref_array)[0] == 0


def test_object_is_freed_when_the_last_ref_is_gone():
    baseline = store_stats()["arena_bytes_used"]
    ref = ember.put(np.ones(8 * MB, dtype=np.uint8))
    assert store_stats()["arena_bytes_used"] >= baseline + 8 * MB
    del ref
    assert wait_for(lambda: store_stats()["arena_bytes_used"] <= baseline)


def test_views_keep_memory_until_they_are_dropped():
    ref = ember.put(np.arange(MB, dtype=np.int64))
    view = ember.get(ref)
    del ref
    ember.put(np.ones(4 * MB, dtype=np.uint8))  # would reuse freed space
    np.testing.assert_array_equal(view[:5], np.arange(5))
    assert view[-1] == MB - 1


def test_refs_inside_objects_keep_their_targets_alive():
    inner = ember.put(np.full(MB, 3, dtype=np.uint8))
    outer = ember.put({"inner": inner})
    inner_id = inner._id
    del inner
    nested_ref = ember.get(outer)["inner"]
    assert nested_ref._id == inner_id
    assert int(ember.get(nested_ref)[0]) == 3


def test_driver_may_drop_a_ref_while_a_task_still_uses_it():
    @ember.remote
    def slow_sum(array):
        import time
        time.sleep(0.2)
        return int(array.sum())

    ref = ember.put(np.ones(MB, dtype=np.uint8))
    result = slow_sum.remote(ref)
    del ref
    assert ember.get(result) == MB


def test_refs_returned_by_tasks_stay_valid():
    @ember.remote
    def make_refs():
        return [ember.put(i * 10) for i in range(3)]

    refs = ember.get(make_refs.remote())
    assert ember.get(refs) == [0, 10, 20]


class TestSpilling:
    """A small ``object_store_memory`` forces spilling to disk and restoring."""

    @pytest.fixture(autouse=True)
    def small_store(self):
        ember.shutdown()
        ember.init(num_cpus=2, object_store_memory=48 * MB)
        yield
        ember.shutdown()
        ember.init(num_cpus=2)

    def test_puts_beyond_the_cap_spill_and_restore(self):
        refs = [ember.put(np.full(12 * MB, i, dtype=np.uint8)) for i in range(8)]
        stats = store_stats()
        assert stats["spilled_total"] > 0
        assert stats["arena_bytes_used"] <= 48 * MB
        spill_dir = current().spill_dir
        assert os.listdir(spill_dir), "spilled objects live in the session's spill folder"
        for i, ref in enumerate(refs):
            array = ember.get(ref)
            assert array[0] == i and array[-1] == i
            del array
        assert store_stats()["restored_total"] > 0

    def test_an_object_larger_than_the_store_is_served_from_disk(self):
        big = np.arange(80 * MB // 8, dtype=np.int64)
        ref = ember.put(big)
        assert int(ember.get(ref)[-1]) == big[-1]
        assert ember.get(describe.remote(ref))[0] == int(big.sum())

    def test_task_results_spill_too(self):
        @ember.remote
        def block(i):
            return np.full(10 * MB, i, dtype=np.uint8)

        refs = [block.remote(i) for i in range(8)]
        assert [int(ember.get(r)[0]) for r in refs] == list(range(8))

    def test_pinned_objects_are_not_spilled_under_a_reader(self):
        first = ember.put(np.full(20 * MB, 1, dtype=np.uint8))
        view = ember.get(first)
        others = [ember.put(np.full(12 * MB, 2, dtype=np.uint8)) for _ in range(4)]
        assert view[0] == 1 and view[-1] == 1
        assert len(others) == 4
