"""Splitting a dataset between consumers (train workers).

    split(n)            materialize, then give each of n datasets whole blocks (equal=True:
                        exactly the same number of rows each, by slicing)
    streaming_split(n)  one execution, run by a coordinator actor; n DataIterators (they
                        pickle, so each can go to another process) pull disjoint blocks
                        from it concurrently, as the blocks are produced
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

import ember

from ._blocks import check_batch_format, rebatch


def split_blocks(bundles: list[tuple[Any, int]], n: int, equal: bool) -> list[list[tuple[Any, int]]]:
    """Blocks dealt to ``n`` shares. Whole blocks when every share gets some rows that
    way; else (fewer blocks than shares) blocks are cut so that each share is non-empty
    whenever there are at least ``n`` rows. With ``equal`` every share gets exactly
    total // n rows (at most n - 1 rows are dropped, as in Ray)."""
    total = sum(rows for _, rows in bundles)
    if equal:
        return _cut(bundles, [total // n] * n)
    shares: list[list[tuple[Any, int]]] = [[] for _ in range(n)]
    sizes = [0] * n
    for bundle in sorted(bundles, key=lambda b: -b[1]):
        smallest = sizes.index(min(sizes))
        shares[smallest].append(bundle)
        sizes[smallest] += bundle[1]
    if total < n or min(sizes) > 0:
        return shares
    return _cut(bundles, [total // n + (1 if i < total % n else 0) for i in range(n)])


def _cut(bundles: list[tuple[Any, int]], targets: list[int]) -> list[list[tuple[Any, int]]]:
    """Shares of exactly ``targets[i]`` rows each, in row order, slicing blocks as needed."""
    from ._executor import produce_block
    from ._transforms import Slice

    shares: list[list[tuple[Any, int]]] = []
    current: list[tuple[Any, int]] = []
    wanted = iter(targets)
    need = next(wanted, 0)
    for ref, rows in bundles:
        start = 0
        while start < rows and len(shares) < len(targets):
            take = min(need, rows - start)
            if take:
                piece = ref if (start, take) == (0, rows) else \
                    produce_block.remote(ref, [Slice(start, start + take)])[0]
                current.append((piece, take))
            start += take
            need -= take
            if need == 0:
                shares.append(current)
                current, need = [], next(wanted, 0)
    while len(shares) < len(targets):
        shares.append([])
    sliced = [ref for share in shares for ref, _ in share]
    # Cut now, while CPUs are free: the consumers (e.g. train workers) may hold them all.
    ember.wait(sliced, num_returns=len(sliced))
    return shares


@ember.remote(num_cpus=0)
class SplitCoordinator:
    """Runs one execution per epoch and deals its blocks to whichever consumer asks next.

    The first consumer to ask for a new epoch starts its execution; a consumer still
    asking for an older epoch is told that epoch is over.
    """

    def __init__(self, dataset: Any, n: int, equal: bool):
        self.dataset = dataset
        self.stream = dataset._stream()
        self.epoch = 0
        self.lock = threading.Lock()
        self.n = n
        self.equal = equal
        self.served = [0] * n

    def next_block(self, index: int, epoch: int = 0) -> Any:
        """(block ref wrapped in a list, rows), or None when the epoch is over."""
        with self.lock:
            if epoch > self.epoch:
                self.epoch, self.stream = epoch, self.dataset._stream()
            elif epoch < self.epoch:
                return None
            for ref, rows in self.stream:
                if rows:
                    self.served[index] += rows
                    return [ref], rows
            return None


class DataIterator:
    """One consumer's share of a ``streaming_split``; picklable, so it can be handed to a
    train worker. Iterate it with ``iter_batches`` / ``iter_rows``."""

    def __init__(self, coordinator: Any, index: int, blocks: list[Any] | None = None):
        self._coordinator = coordinator
        self._index = index
        self._fixed = blocks  # equal=True: this share's blocks, decided up front
        self._epoch = 0

    def _blocks(self) -> Iterator[pa.Table]:
        """This share's blocks; each call is one epoch (a new pass over the data)."""
        epoch, self._epoch = self._epoch, self._epoch + 1
        if self._fixed is not None:
            for [ref] in self._fixed:
                yield ember.get(ref)
            return
        while True:
            item = ember.get(self._coordinator.next_block.remote(self._index, epoch))
            if item is None:
                return
            [ref], _ = item
            yield ember.get(ref)

    def iter_batches(self, *, batch_size: int | None = 256, batch_format: str = "default",
                     drop_last: bool = False) -> Iterator[Any]:
        """This share's batches; each call is a new pass (epoch) over the share.

        Args:
            batch_size: rows per batch, a positive int (default 256), across blocks.
                None: one batch per block.
            batch_format: ``"default"`` or ``"numpy"`` (a dict of numpy arrays),
                ``"pandas"`` or ``"pyarrow"``.
            drop_last: True drops a last batch smaller than ``batch_size``.
        """
        yield from rebatch(self._blocks(), batch_size, check_batch_format(batch_format),
                           drop_last)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """This share's rows as dicts; each call is a new pass over the share."""
        for batch in self.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield from batch.to_pylist()

    def iter_torch_batches(self, *, batch_size: int | None = 256, dtypes: Any = None,
                           device: str = "cpu", drop_last: bool = False) -> Iterator[Any]:
        """This share's batches as dicts of torch tensors; a new pass on each call.

        Args:
            batch_size: rows per batch (default 256); None: one batch per block.
            dtypes: None: numpy's dtypes; a torch dtype for every column; or a dict
                of column name -> torch dtype.
            device: where the tensors go, e.g. ``"cuda:0"``; default ``"cpu"``.
            drop_last: True drops a last batch smaller than ``batch_size``.
        """
        from ._torch import to_torch

        for batch in self.iter_batches(batch_size=batch_size, drop_last=drop_last):
            yield to_torch(batch, dtypes, device)

    def __repr__(self) -> str:
        return f"DataIterator(split {self._index})"
