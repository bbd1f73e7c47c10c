from __future__ import annotations

import itertools

from ember.core.embedded._allocator import ALIGNMENT, Allocator


def test_allocations_are_aligned_and_disjoint():
    allocator = Allocator(1 << 20)
    offsets = [allocator.allocate(size) for size in (1, 100, 4096, 7)]
    assert all(o is not None and o % ALIGNMENT == 0 for o in offsets)
    spans = sorted((o, o + allocator.size_of(o)) for o in offsets)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_freed_neighbours_coalesce_into_one_block():
    allocator = Allocator(1024)
    a, b, c = (allocator.allocate(256) for _ in range(3))
    assert allocator.allocate(512) is None
    allocator.free(b)
    allocator.free(a)
    assert allocator.allocate(512) == a
    allocator.free(c)
    assert allocator.used_bytes == 512


def test_first_fit_reuses_low_addresses():
    allocator = Allocator(4096)
    first = allocator.allocate(1024)
    allocator.allocate(1024)
    allocator.free(first)
    assert allocator.allocate(64) == first


def test_allocation_fails_when_nothing_fits():
    allocator = Allocator(256)
    assert allocator.allocate(512) is None
    assert allocator.allocate(256) == 0
    assert allocator.allocate(1) is None
    assert allocator.largest_free() == 0
