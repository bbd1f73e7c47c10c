"""First-fit allocator over one contiguous arena (pure bookkeeping, no memory).

Address-ordered first fit keeps live objects packed toward the start of the arena, so
the pages that get reused are the ones already faulted in: writing into warm shared
memory runs several times faster than first-touching fresh pages.
"""

from __future__ import annotations

import bisect

ALIGNMENT = 64


def align(n: int) -> int:
    return (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1)


class Allocator:
    """Hands out aligned ``[offset, offset + size)`` ranges of an arena of ``capacity`` bytes."""

    def __init__(self, capacity: int):
        self.capacity = capacity - capacity % ALIGNMENT
        self._free_starts: list[int] = [0]
        self._free_sizes: dict[int, int] = {0: self.capacity}
        self._used: dict[int, int] = {}
        self.used_bytes = 0

    def allocate(self, size: int) -> int | None:
        """Offset of a new block of at least ``size`` bytes, or None when none fits."""
        size = align(max(size, 1))
        for index, start in enumerate(self._free_starts):
            block = self._free_sizes[start]
            if block >= size:
                del self._free_sizes[start]
                if block == size:
                    del self._free_starts[index]
                else:
                    self._free_starts[index] = start + size
                    self._free_sizes[start + size] = block - size
                self._used[start] = size
                self.used_bytes += size
                return start
        return None

    def free(self, offset: int) -> None:
        size = self._used.pop(offset)
        self.used_bytes -= size
        index = bisect.bisect_left(self._free_starts, offset)
        # Merge with the following free block.
        if index < len(self._free_starts) and self._free_starts[index] == offset + size:
            size += self._free_sizes.pop(self._free_starts[index])
            del self._free_starts[index]
        # Merge with the preceding free block.
        if index > 0:
            before = self._free_starts[index - 1]
            if before + self._free_sizes[before] == offset:
                self._free_sizes[before] += size
                return
        self._free_starts.insert(index, offset)
        self._free_sizes[offset] = size

    def size_of(self, offset: int) -> int:
        return self._used[offset]

    def largest_free(self) -> int:
        return max(self._free_sizes.values(), default=0)
