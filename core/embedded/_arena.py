"""The shared-memory arena: one memfd mapped twice in every process.

    driver: memfd_create -> ftruncate(capacity) -> inherited by the zygote and workers
    writes: through the read-write mapping (copy buffers in once)
    reads:  read-only views of the read-only mapping, so a stray write faults instead
            of silently changing an immutable object

A memfd has no name in /dev/shm: when the last process holding it exits, the kernel
frees it, so a crashed session cannot leave a segment behind. Its pages are only
allocated when first written.
"""

from __future__ import annotations

import mmap
import os
import weakref
from collections.abc import Callable, Sequence

from ._allocator import align


def buffer_offsets(lengths: Sequence[int]) -> list[int]:
    """Where each buffer of an object starts inside its allocation (64-byte aligned)."""
    offsets, position = [], 0
    for length in lengths:
        offsets.append(position)
        position += align(length)
    return offsets


def allocation_size(lengths: Sequence[int]) -> int:
    return sum(align(length) for length in lengths) or 64


class Arena:
    """Both mappings of the arena's memfd, in this process."""

    def __init__(self, fd: int, capacity: int):
        self.fd = fd
        self.capacity = capacity
        self._rw = mmap.mmap(fd, capacity, flags=mmap.MAP_SHARED,
                             prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._ro = mmap.mmap(fd, capacity, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        self._rw_view = memoryview(self._rw)

    @classmethod
    def create(cls, capacity: int) -> Arena:
        fd = os.memfd_create("ember-object-store", 0)  # inheritable by the zygote
        os.ftruncate(fd, capacity)
        return cls(fd, capacity)

    def write(self, offset: int, buffers: Sequence[memoryview | bytes]) -> None:
        for start, buffer in zip(buffer_offsets([_nbytes(b) for b in buffers]), buffers):
            view = memoryview(buffer).cast("B") if not isinstance(buffer, bytes) else buffer
            self._rw_view[offset + start: offset + start + len(view)] = view

    def read_views(self, offset: int, lengths: Sequence[int],
                   on_release: Callable[[], None] | None) -> list[memoryview]:
        """Zero-copy read-only views; ``on_release`` runs when the last one is gone."""
        import numpy  # deferred: only processes that read large objects pay for it

        total = allocation_size(lengths)
        base = numpy.frombuffer(self._ro, numpy.uint8, total, offset)
        if on_release is not None:
            weakref.finalize(base, on_release)
        # numpy's stubs give ndarray __buffer__ only from Python 3.12 on; it has the protocol.
        whole = memoryview(base)  # type: ignore[arg-type]
        return [whole[start:start + length]
                for start, length in zip(buffer_offsets(lengths), lengths)]

    def copy_out(self, offset: int, size: int) -> memoryview:
        return self._rw_view[offset:offset + size]

    def close(self) -> None:
        self._rw_view.release()
        try:
            self._rw.close()
            self._ro.close()
        except BufferError:  # a live zero-copy view still maps it; the OS frees it at exit
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def _nbytes(buffer: memoryview | bytes) -> int:
    return buffer.nbytes if isinstance(buffer, memoryview) else len(buffer)


def write_file(path: str, buffers: Sequence[memoryview]) -> None:
    """Write buffers at their aligned offsets (the same layout as in the arena)."""
    lengths = [b.nbytes for b in buffers]
    try:
        with open(path, "wb") as handle:
            for start, buffer in zip(buffer_offsets(lengths), buffers):
                handle.seek(start)
                handle.write(buffer)
            handle.truncate(allocation_size(lengths))
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def file_views(path: str, lengths: Sequence[int]) -> list[memoryview]:
    """Read-only views of a spilled object's file, for objects too big for the arena."""
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)
    whole = memoryview(mapped)
    return [whole[start:start + length]
            for start, length in zip(buffer_offsets(lengths), lengths)]
