"""``Dataset``: a lazy plan over Arrow blocks; nothing runs until it is consumed."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

import ember

from . import _executor
from ._blocks import check_batch_format, rebatch
from ._context import DataContext
from ._transforms import AddColumn, BlockAggregate, Columns, MapBatches, RowMap


class Dataset:
    """A distributed table, computed lazily and streamed block by block.

    Example::

        ds = ember.data.range(1000).map_batches(lambda b: {"y": b["id"] * 2})
        assert ds.sum("y") == 999_000

    Build a dataset with a ``read_*`` or ``from_*`` function or ``range``, not with the
    constructor. Transformations (``map_batches``, ``filter``, ``sort``...) return a new
    dataset and run nothing; consuming methods (``iter_batches``, ``take``, ``count``,
    ``write_*``...) execute the plan, again on every call (``materialize`` keeps the
    result). Blocks are ``pyarrow.Table`` objects in the object store.

    An exception raised by a user function surfaces in the consuming call as an
    ``ember.TaskError`` that is also an instance of the function's exception class (a
    ``ZeroDivisionError`` can be caught as one), naming the operator that failed.

    Args:
        sources: internal: the read tasks or ``(block ref, rows)`` pairs the plan starts
            from.
        ops: internal: the plan's stages. Default None: none.
        inputs: internal: for ``union``, the datasets whose rows come first. Default
            None: read ``sources``.
    """

    def __init__(self, sources: list[Any], ops: list[tuple[str, Any]] | None = None,
                 inputs: list[Dataset] | None = None):
        self._sources = sources
        self._ops = ops or []
        self._inputs = inputs  # union: the datasets whose blocks come first, in order
        self._stats = _executor.Stats()

    # -- building the plan ---------------------------------------------------------------
    def _with(self, transform: Any, placement: dict[str, Any] | None = None) -> Dataset:
        """Add a per-block transform; it fuses with the previous one when both run as
        plain tasks with the same resources (one task per block for the pair)."""
        ops = list(self._ops)
        placement = placement or {}
        if ops and ops[-1][0] == "map" and ops[-1][2] == placement \
                and "compute" not in placement:
            ops[-1] = ("map", [*ops[-1][1], transform], placement)
        else:
            ops.append(("map", [transform], placement))
        return Dataset(self._sources, ops, self._inputs)

    def map_batches(self, fn: Any, *, batch_size: int | None | str = None,
                    batch_format: str = "default", fn_args: tuple = (),
                    fn_kwargs: dict | None = None, fn_constructor_args: tuple = (),
                    fn_constructor_kwargs: dict | None = None, compute: Any = None,
                    concurrency: Any = None, num_cpus: float | None = None,
                    num_gpus: float | None = None, **unknown: Any) -> Dataset:
        """Apply ``fn`` to batches (dict of numpy arrays by default); it returns a batch.
        By default a batch is a whole block (``batch_size=None``), the cheapest.

        A callable class is constructed once per worker process and then reused, so a
        model is loaded once, not once per batch.

        Example::

            class Embed:
                def __init__(self, path):
                    self.model = load(path)          # once per actor

                def __call__(self, batch):
                    return {"emb": self.model(batch["text"])}

            ds.map_batches(Embed, fn_constructor_args=("model.pt",), batch_size=64,
                           concurrency=2, num_gpus=1)

        Consecutive transforms that run as plain tasks with the same ``num_cpus`` /
        ``num_gpus`` are fused: a block goes through all of them in one task.

        Args:
            fn: a function ``fn(batch, *fn_args, **fn_kwargs) -> batch``, or a callable
                class whose instances are such functions. It returns a dict of column
                name -> array (all of one length; a 2-D or higher array becomes a
                tensor column), a pandas DataFrame or a pyarrow Table; the output may
                have more or fewer rows than the input.
            batch_size: rows per call, a positive int. None (the default) or
                ``"default"``: one call per block. Batches never span blocks, so a
                block's last batch may be smaller.
            batch_format: what ``fn`` receives: ``"default"`` or ``"numpy"`` (a dict of
                column name -> numpy array; list columns whose rows all have one length
                and tensor columns arrive as 2-D / n-D arrays), ``"pandas"`` (a
                DataFrame) or ``"pyarrow"`` (a Table).
            fn_args: extra positional arguments passed to ``fn`` after the batch.
            fn_kwargs: extra keyword arguments passed to ``fn``. Default None: none.
            fn_constructor_args: positional arguments for the class's ``__init__``
                (ignored when ``fn`` is a function).
            fn_constructor_kwargs: keyword arguments for the class's ``__init__``.
                Default None: none (ignored when ``fn`` is a function).
            compute: None (the default) or ``"tasks"``: one task per block (a class is
                then built once per worker process and cached there); an
                ``ActorPoolStrategy``: a pool of actors, each building the class once;
                needs a callable class.
            concurrency: with a callable class and no ``ActorPoolStrategy``: an int
                ``n`` for a pool of ``n`` actors, or a ``(min, max)`` tuple for a pool
                growing from ``min`` to ``max`` actors (as
                ``ActorPoolStrategy.from_concurrency``). Default None: no pool. Accepted
                and ignored when ``fn`` is a function (how many tasks run at once is
                bounded by ``DataContext.max_blocks_in_flight``) or when ``compute`` is
                an ``ActorPoolStrategy``.
            num_cpus: CPUs each task (or each pool actor) reserves. Default None: 1 per
                task, 0 per pool actor.
            num_gpus: GPUs each task (or each pool actor) reserves. Default None: 0.

        Returns:
            A new Dataset; nothing runs until it is consumed.

        Raises:
            TypeError: ``fn`` is not callable, or an argument Ember does not accept
                (such as Ray's ``zero_copy_batch``, ``memory`` or ``ray_remote_args_fn``)
                is passed.
            ValueError: a bad ``batch_size`` or ``batch_format``, a ``compute`` that is
                neither ``"tasks"`` nor an ``ActorPoolStrategy``, or an actor pool for a
                function.
        """
        if unknown:
            raise TypeError(f"map_batches got unknown argument(s) {sorted(unknown)}")
        if not callable(fn):
            raise TypeError(f"map_batches needs a function or a callable class, got {fn!r}")
        placement = _placement(fn, compute, concurrency, num_cpus, num_gpus)
        if batch_size == "default":
            batch_size = None  # whole blocks, as Ray Data 2.60: one call per block
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        name = f"MapBatches({getattr(fn, '__name__', type(fn).__name__)})"
        return self._with(MapBatches(
            fn, batch_size, check_batch_format(batch_format), tuple(fn_args),
            dict(fn_kwargs or {}), tuple(fn_constructor_args), dict(fn_constructor_kwargs or {}),
            name), placement)

    def map(self, fn: Callable[[dict], dict]) -> Dataset:
        """Apply ``fn`` to every row (a dict); it returns the new row.

        Args:
            fn: ``fn(row) -> row``, both dicts of column name -> value (plain Python
                values, as ``pyarrow`` converts them). Ray's other arguments
                (``compute``, ``num_cpus``, ``fn_args``...) are not accepted; use
                ``map_batches`` for those, and for speed.

        Returns:
            A new Dataset. At execution, a non-dict result raises TypeError.
        """
        return self._with(RowMap(fn, "map", f"Map({getattr(fn, '__name__', 'fn')})"))

    def flat_map(self, fn: Callable[[dict], list[dict]]) -> Dataset:
        """Apply ``fn`` to every row; it returns a list of rows.

        Args:
            fn: ``fn(row) -> list of rows`` (any iterable of dicts; empty drops the row).

        Returns:
            A new Dataset. At execution, an output row that is not a dict raises
            TypeError.
        """
        return self._with(RowMap(fn, "flat_map", f"FlatMap({getattr(fn, '__name__', 'fn')})"))

    def filter(self, fn: Callable[[dict], bool]) -> Dataset:
        """Keep the rows for which ``fn(row)`` is true.

        Args:
            fn: ``fn(row) -> bool`` on a dict row; any truthy result keeps the row.
                (Ray's ``expr=`` strings are not supported.)

        Returns:
            A new Dataset.
        """
        return self._with(RowMap(fn, "filter", f"Filter({getattr(fn, '__name__', 'fn')})"))

    def add_column(self, col: str, fn: Callable[[Any], Any], *,
                   batch_format: str = "pandas") -> Dataset:
        """Add (or replace) column ``col`` computed from each batch.

        Args:
            col: the new column's name; an existing column of that name is replaced.
            fn: ``fn(batch) -> values``, called once per block with the whole block;
                it returns one value per row (a pandas Series, numpy array, list or
                pyarrow array).
            batch_format: what ``fn`` receives: ``"pandas"`` (the default, a
                DataFrame), ``"default"`` / ``"numpy"`` (a dict of numpy arrays) or
                ``"pyarrow"`` (a Table).

        Returns:
            A new Dataset.

        Raises:
            ValueError: an unknown ``batch_format``.
        """
        return self._with(AddColumn(col, fn, check_batch_format(batch_format)))

    def select_columns(self, cols: list[str] | str) -> Dataset:
        """Keep only the columns ``cols``, in that order.

        Args:
            cols: a column name or a list of them. A missing column raises KeyError
                (listing the columns there are) when the dataset runs.

        Returns:
            A new Dataset.
        """
        return self._with(Columns([cols] if isinstance(cols, str) else list(cols), True))

    def drop_columns(self, cols: list[str] | str) -> Dataset:
        """Remove the columns ``cols``.

        Args:
            cols: a column name or a list of them. A missing column raises KeyError
                (listing the columns there are) when the dataset runs.

        Returns:
            A new Dataset.
        """
        return self._with(Columns([cols] if isinstance(cols, str) else list(cols), False))

    def limit(self, limit: int) -> Dataset:
        """The first ``limit`` rows; upstream work stops once they exist.

        Args:
            limit: how many rows to keep, an int >= 0.

        Returns:
            A new Dataset.

        Raises:
            ValueError: ``limit`` is not an int >= 0.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be an int >= 0, got {limit!r}")
        return Dataset(self._sources, [*self._ops, ("limit", limit)], self._inputs)

    def _barrier(self, name: str, run: Callable[[list[tuple[Any, int]]], Any]) -> Dataset:
        """An all-to-all step: it needs every upstream block before producing any."""
        return Dataset(self._sources, [*self._ops, ("all", (name, run))], self._inputs)

    def random_shuffle(self, *, seed: int | None = None) -> Dataset:
        """Rows in random order (the same order for the same ``seed``).

        An all-to-all step: every upstream block is computed before the first output
        block; there are as many output blocks as input blocks.

        Args:
            seed: an int for a reproducible order (given the same input blocks).
                Default None: a different order on every execution.

        Returns:
            A new Dataset.
        """
        from . import _shuffle

        return self._barrier("RandomShuffle", lambda b: _shuffle.random_shuffle(b, seed))

    def sort(self, key: str, descending: bool = False) -> Dataset:
        """All rows ordered by column ``key``, across blocks (a distributed sort).

        An all-to-all step: upstream blocks are sampled for key ranges, then shuffled.

        Args:
            key: one column name (Ray's lists of keys are not supported). A missing
                column raises KeyError, listing the columns there are, when the dataset
                runs.
            descending: False (the default): smallest first; True: largest first.

        Returns:
            A new Dataset.

        Raises:
            TypeError: ``key`` is not a string.
        """
        from . import _shuffle

        if not isinstance(key, str):
            raise TypeError(f"sort key must be a column name, got {key!r}")
        return self._barrier("Sort", lambda b: _shuffle.sort(b, key, descending))

    def groupby(self, key: str | list[str]) -> GroupedData:
        """Group rows by ``key`` for ``.count()``, ``.sum(col)``, ``.mean(col)``...

        Example::

            ds.groupby("k").mean("x")                      # columns k, mean(x)
            ds.groupby(["a", "b"]).aggregate(("sum", "x"), "count()")

        Args:
            key: a column name, or a list of them to group by their combination.

        Returns:
            A ``GroupedData`` with ``count()``, ``sum(on)``, ``mean(on)``, ``min(on)``,
            ``max(on)``, ``std(on)`` and ``aggregate(*specs)``, each returning a Dataset
            with one row per group, sorted by key.

        Raises:
            TypeError: ``key`` is neither a column name nor a non-empty list of them.
        """
        keys = [key] if isinstance(key, str) else list(key)
        if not keys or not all(isinstance(k, str) for k in keys):
            raise TypeError(f"groupby needs a column name or a list of them, got {key!r}")
        return GroupedData(self, keys)

    def repartition(self, num_blocks: int) -> Dataset:
        """The same rows, in order, in ``num_blocks`` blocks of (nearly) equal size.

        Args:
            num_blocks: how many output blocks, a positive int. (Ray's ``shuffle=`` is
                not supported: rows keep their order.)

        Returns:
            A new Dataset.

        Raises:
            ValueError: ``num_blocks`` is not a positive int.
        """
        from . import _shuffle

        _check_n(num_blocks)
        return self._barrier("Repartition", lambda b: _shuffle.repartition(b, num_blocks))

    def union(self, *others: Dataset) -> Dataset:
        """This dataset's rows followed by the others' (lazily).

        Args:
            *others: the Datasets whose rows follow, in order.

        Returns:
            A new Dataset.

        Raises:
            TypeError: one of ``others`` is not a Dataset.
        """
        for other in others:
            if not isinstance(other, Dataset):
                raise TypeError(f"union takes Datasets, got {type(other).__name__}")
        return Dataset([], [], [self, *others])

    def zip(self, other: Dataset) -> Dataset:
        """Columns of both, row by row; both must have the same number of rows.

        Args:
            other: the Dataset whose columns are appended; a name this dataset already
                has gets the suffix ``_1`` (``id`` and ``id_1``). It is executed in full
                when this dataset runs.

        Returns:
            A new Dataset. At execution, different row counts raise ValueError.

        Raises:
            TypeError: ``other`` is not a Dataset.
        """
        from ._zip import zip_bundles

        if not isinstance(other, Dataset):
            raise TypeError(f"zip takes a Dataset, got {type(other).__name__}")
        return self._barrier("Zip", lambda b: zip_bundles(b, list(other._stream())))

    # -- running it ------------------------------------------------------------------------
    def _stream(self, prefetch: int = 0) -> _executor.BlockStream:
        window = max(DataContext.get_current().max_blocks_in_flight, prefetch)
        stats = self._stats = _executor.Stats()
        ops = list(self._ops)
        if self._inputs is not None:
            stream = itertools.chain.from_iterable(d._stream() for d in self._inputs)
        else:
            first: list[Any] = []
            if ops and ops[0][0] == "map" and not ops[0][2]:
                first = ops.pop(0)[1]
            stream = _executor.source_stage(self._sources, first, window, stats)
        for op in ops:
            kind, value = op[0], op[1]
            if kind == "map" and "compute" in op[2]:
                from ._actor_pool import actor_stage

                stream = actor_stage(stream, value, op[2]["compute"], op[2])
            elif kind == "map":
                stream = _executor.map_stage(stream, value, window, stats, op[2])
            elif kind == "limit":
                stream = _executor.limit_stage(stream, value)
            else:
                stream = iter(value[1](list(stream)))
        return stream

    def iter_internal_ref_bundles(self) -> Iterator[tuple[Any, int]]:
        """(ObjectRef of a pyarrow.Table block, rows) in order, streamed."""
        return self._stream()

    def stats(self) -> str:
        """Per-stage blocks, rows, bytes and task time of this dataset's last execution."""
        return self._stats.summary()

    def materialize(self) -> Dataset:
        """Run the plan now and keep the blocks in the object store."""
        return Dataset([(ref, rows) for ref, rows in self._stream()])

    def num_blocks(self) -> int:
        """How many blocks the dataset has: known without running it when there is no
        transform (read tasks, in-memory or materialized blocks), else by executing it."""
        return len(self._sources) if not self._ops else sum(1 for _ in self._stream())

    def iter_batches(self, *, batch_size: int | None = 256, batch_format: str = "default",
                     drop_last: bool = False, prefetch_batches: int = 1) -> Iterator[Any]:
        """Batches of ``batch_size`` rows across block boundaries, as they are computed.

        Example::

            for batch in ds.iter_batches(batch_size=1024, batch_format="pandas"):
                ...

        Args:
            batch_size: rows per batch, a positive int (default 256); batches span
                blocks, and only the last may be smaller. None: one batch per block.
            batch_format: ``"default"`` or ``"numpy"`` (a dict of column name -> numpy
                array), ``"pandas"`` (a DataFrame) or ``"pyarrow"`` (a Table).
            drop_last: True drops a last batch smaller than ``batch_size``. Default
                False: it is yielded.
            prefetch_batches: blocks are computed ahead of the consumer: each stage keeps
                up to ``max(prefetch_batches, DataContext.max_blocks_in_flight)`` blocks
                in flight (the count is of blocks, not batches). An int >= 0, default 1.

        Returns:
            An iterator of batches; the dataset executes as it is consumed.

        Raises:
            ValueError: a bad ``batch_size``, ``batch_format`` or ``prefetch_batches``
                (when iteration starts).
        """
        fmt = check_batch_format(batch_format)
        if isinstance(prefetch_batches, bool) or not isinstance(prefetch_batches, int) \
                or prefetch_batches < 0:
            raise ValueError(f"prefetch_batches must be an int >= 0, got {prefetch_batches!r}")

        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        tables = (ember.get(ref) for ref, rows in self._stream(prefetch_batches) if rows)
        yield from rebatch(tables, batch_size, fmt, drop_last)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of column name -> Python value, streamed in order."""
        for batch in self.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield from batch.to_pylist()

    def take(self, limit: int = 20) -> list[dict[str, Any]]:
        """The first rows as dicts; only as much of the plan runs as they need.

        Args:
            limit: at most this many rows, an int >= 0 (default 20).

        Returns:
            A list of dicts of column name -> value.
        """
        return list(self.limit(limit).iter_rows())

    def take_all(self) -> list[dict[str, Any]]:
        """Every row as a dict, in a list (all in the driver's memory; Ray's ``limit=``
        is not supported)."""
        return list(self.iter_rows())

    def show(self, limit: int = 20) -> None:
        """Print the first rows, one dict per line.

        Args:
            limit: at most this many rows, an int >= 0 (default 20).
        """
        for row in self.take(limit):
            print(row)

    def count(self) -> int:
        """The number of rows (executes the plan; only row counts reach the driver)."""
        return sum(rows for _, rows in self._stream())

    def schema(self) -> pa.Schema:
        """The schema of the first block (Arrow: ``.names`` and ``.types``)."""
        for ref, _ in self.limit(1)._stream():
            return ember.get(ref).schema
        return pa.schema([])

    def columns(self) -> list[str]:
        """The column names, from the first block's schema (computing only that block)."""
        return list(self.schema().names)

    def to_arrow(self) -> pa.Table:
        """Every block concatenated into one ``pyarrow.Table`` in the driver (differing
        schemas are unified, missing columns filled with nulls); an empty table when
        there are no blocks."""
        tables = [ember.get(ref) for ref, rows in self._stream()]
        if not tables:
            return pa.table({})
        return pa.concat_tables(tables, promote_options="default")

    def to_pandas(self) -> Any:
        """The whole dataset as one pandas DataFrame in the driver (Ray's ``limit=`` is
        not supported)."""
        return self.to_arrow().to_pandas()

    def iter_torch_batches(self, *, batch_size: int | None = 256, dtypes: Any = None,
                           device: str = "cpu", drop_last: bool = False) -> Iterator[Any]:
        """Batches as dicts of torch tensors (``dtypes``: one dtype or one per column).

        Args:
            batch_size: rows per batch, a positive int (default 256), across blocks.
                None: one batch per block.
            dtypes: None (the default): each tensor keeps its numpy dtype; a torch
                dtype for every column; or a dict of column name -> torch dtype
                (columns left out keep theirs).
            device: where the tensors go, e.g. ``"cuda:0"``; default ``"cpu"``.
            drop_last: True drops a last batch smaller than ``batch_size``.

        Ray's ``collate_fn``, ``prefetch_batches`` and other arguments are not accepted.

        Returns:
            An iterator of dicts of column name -> ``torch.Tensor``.

        Raises:
            ImportError: torch is not installed.
        """
        from ._torch import to_torch

        for batch in self.iter_batches(batch_size=batch_size, drop_last=drop_last):
            yield to_torch(batch, dtypes, device)

    # -- splitting -----------------------------------------------------------------------------
    def split(self, n: int, *, equal: bool = False) -> list[Dataset]:
        """``n`` datasets sharing the blocks (``equal``: exactly the same row count each).

        The dataset is executed now; the shares are materialized datasets.

        Args:
            n: how many shares, a positive int.
            equal: False (the default): whole blocks dealt so that row counts balance
                (blocks are cut only when a share would otherwise get none); True:
                every share gets exactly ``count // n`` rows, blocks cut as needed, and
                up to ``n - 1`` rows are dropped, as in Ray. (Ray's ``locality_hints``
                is not supported.)

        Returns:
            A list of ``n`` Datasets.

        Raises:
            ValueError: ``n`` is not a positive int.
        """
        from ._split import split_blocks

        _check_n(n)
        return [Dataset(share) for share in split_blocks(list(self._stream()), n, equal)]

    def streaming_split(self, n: int, *, equal: bool = False) -> list[Any]:
        """``n`` iterators reading disjoint blocks of one execution concurrently; each is
        picklable, so it can be given to a train worker in another process.

        Example::

            a, b = ds.streaming_split(2)
            ember.get([consume.remote(a), consume.remote(b)])

        Args:
            n: how many iterators, a positive int.
            equal: False (the default): a coordinator actor runs the dataset and hands
                each block to whichever iterator asks next (shares may differ in size);
                each new pass over an iterator (``iter_batches``...) starts a new
                execution, shared by all iterators. True: the dataset is executed now
                and cut as ``split(n, equal=True)`` (exactly ``count // n`` rows each);
                passes re-read those blocks. (Ray's ``locality_hints`` is not
                supported.)

        Returns:
            A list of ``n`` DataIterators, each with ``iter_batches``, ``iter_rows`` and
            ``iter_torch_batches``.

        Raises:
            ValueError: ``n`` is not a positive int.
        """
        from ._split import DataIterator, SplitCoordinator, split_blocks

        _check_n(n)
        if equal:
            shares = split_blocks(list(self._stream()), n, True)
            return [DataIterator(None, i, [[ref] for ref, _ in share])
                    for i, share in enumerate(shares)]
        coordinator = SplitCoordinator.remote(self, n, equal)
        return [DataIterator(coordinator, i) for i in range(n)]

    # -- aggregates without a shuffle ------------------------------------------------------------
    def sum(self, on: str) -> Any:
        """The sum of column ``on`` over all rows, or None when it has no
        non-null value.

        Each block is reduced in the task that produces it; only one value per block
        reaches the driver. Nulls are skipped.

        Args:
            on: a column name (one; Ray's lists are not supported). A missing column
                raises KeyError, listing the columns there are.

        Returns:
            A Python scalar, or None.
        """
        return _reduce(self, on, "sum")

    def min(self, on: str) -> Any:
        """The smallest value of column ``on`` over all rows, or None when it has no
        non-null value.

        Each block is reduced in the task that produces it; only one value per block
        reaches the driver. Nulls are skipped.

        Args:
            on: a column name (one; Ray's lists are not supported). A missing column
                raises KeyError, listing the columns there are.

        Returns:
            A Python scalar, or None.
        """
        return _reduce(self, on, "min")

    def max(self, on: str) -> Any:
        """The largest value of column ``on`` over all rows, or None when it has no
        non-null value.

        Each block is reduced in the task that produces it; only one value per block
        reaches the driver. Nulls are skipped.

        Args:
            on: a column name (one; Ray's lists are not supported). A missing column
                raises KeyError, listing the columns there are.

        Returns:
            A Python scalar, or None.
        """
        return _reduce(self, on, "max")

    def mean(self, on: str) -> Any:
        """The mean of column ``on``: the sum of its non-null values divided by the
        number of rows (a null counts as a row, unlike Ray, which ignores nulls).

        Args:
            on: a column name (one; Ray's lists are not supported). A missing column
                raises KeyError, listing the columns there are.

        Returns:
            A float, or None when the dataset has no rows or the column only nulls.
        """
        total, count = _reduce(self, on, "sum", "mean"), self.select_columns([on]).count()
        return total / count if count else None

    # -- writing ---------------------------------------------------------------------------------
    def write_parquet(self, path: str) -> None:
        """Write the dataset as Parquet files, one file per block (``000000.parquet``,
        ``000001.parquet``...), each by a task on the worker holding the block.

        Args:
            path: the directory: a local folder (created if missing) or a URI
                pyarrow.fs opens (``s3://bucket/out``, ``gs://...``). Files of the same
                names are overwritten. (Ray's ``filesystem=``, ``partition_cols`` and
                other arguments are not supported.)
        """
        self._write(path, "parquet")

    def write_csv(self, path: str) -> None:
        """Write the dataset as CSV files with a header row, one file per block
        (``000000.csv``, ``000001.csv``...), each by a task on the worker holding it.

        Args:
            path: the directory: a local folder (created if missing) or a URI
                pyarrow.fs opens (``s3://bucket/out``, ``gs://...``). Files of the same
                names are overwritten. (Ray's ``filesystem=``, ``partition_cols`` and
                other arguments are not supported.)
        """
        self._write(path, "csv")

    def write_json(self, path: str) -> None:
        """Write the dataset as JSON-lines files (one object per row; values JSON
        cannot encode are written as their ``str``), one file per block (``000000.json``,
        ``000001.json``...), each by a task on the worker holding the block.

        Args:
            path: the directory: a local folder (created if missing) or a URI
                pyarrow.fs opens (``s3://bucket/out``, ``gs://...``). Files of the same
                names are overwritten. (Ray's ``filesystem=``, ``partition_cols`` and
                other arguments are not supported.)
        """
        self._write(path, "json")

    def _write(self, path: str, file_format: str) -> None:
        """One file per block, written by the worker that holds it."""
        from ._io import write_block

        if "://" not in path:
            os.makedirs(path, exist_ok=True)
        writes = [write_block.remote(ref, path, index, file_format)
                  for index, (ref, _) in enumerate(self._stream())]
        ember.get(writes)

    def __repr__(self) -> str:
        ops = " -> ".join(f"{op[0]}({len(op[1]) if op[0] == 'map' else op[1]})"
                          for op in self._ops)
        return f"Dataset(blocks={len(self._sources)}{', ' + ops if ops else ''})"


def _placement(fn: Any, compute: Any, concurrency: Any, num_cpus: Any,
               num_gpus: Any) -> dict[str, Any]:
    """How a map_batches stage runs: plain tasks (with resources) or an actor pool."""
    from ._actor_pool import ActorPoolStrategy

    placement: dict[str, Any] = {}
    if num_cpus is not None:
        placement["num_cpus"] = num_cpus
    if num_gpus is not None:
        placement["num_gpus"] = num_gpus
    if compute is not None and not isinstance(compute, ActorPoolStrategy):
        if compute != "tasks":
            raise ValueError(f"compute must be an ActorPoolStrategy or 'tasks', got {compute!r}")
        compute = None
    if compute is None and concurrency is not None and isinstance(fn, type):
        compute = ActorPoolStrategy.from_concurrency(concurrency)
    if compute is not None:
        if not isinstance(fn, type):
            raise ValueError("an ActorPoolStrategy needs a callable class (its __init__ runs "
                             "once per actor); pass a class, or drop compute=")
        placement["compute"] = compute
    return placement


class GroupedData:
    """``ds.groupby(key)``: aggregates per group, computed with a distributed shuffle.

    Result columns follow Ray: ``count()``, ``sum(x)``, ``mean(x)``, ``min(x)``,
    ``max(x)``, ``std(x)`` (sample standard deviation); rows are sorted by key.
    """

    def __init__(self, dataset: Dataset, keys: list[str]):
        self._dataset = dataset
        self._keys = keys

    def aggregate(self, *aggregates: tuple[str, str] | str) -> Dataset:
        """Several aggregates at once: ``("mean", "x")``, ``"sum(y)"`` or ``"count()"``.

        Args:
            *aggregates: each a ``(how, column)`` tuple (``("count", None)`` for the
                row count) or its string form ``"how(column)"``; ``how`` is one of
                count, sum, mean, min, max, std.

        Returns:
            A Dataset with the key columns and one column per aggregate, named as
            written (``count()``, ``mean(x)``), one row per group, sorted by key.

        Raises:
            ValueError: no aggregate, an unknown one, or one missing its column.
        """
        from . import _shuffle

        specs = [_parse_aggregate(a) for a in aggregates]
        if not specs:
            raise ValueError("aggregate needs at least one aggregate, e.g. ('mean', 'x')")
        keys = self._keys
        parts = max(1, min(4, len(self._dataset._sources) or 1))
        return self._dataset._barrier(
            "GroupBy", lambda b: _shuffle.groupby(b, keys, specs, parts))

    def count(self) -> Dataset:
        """Rows per group, in a column ``count()``."""
        return self.aggregate(("count", None))

    def sum(self, on: str) -> Dataset:
        """The sum of column ``on`` per group, in a column
        ``sum(<on>)`` (e.g. ``sum(x)``).

        Args:
            on: a column name.
        """
        return self.aggregate(("sum", on))

    def mean(self, on: str) -> Dataset:
        """The mean of column ``on`` per group, in a column
        ``mean(<on>)`` (e.g. ``mean(x)``).

        Args:
            on: a column name.
        """
        return self.aggregate(("mean", on))

    def min(self, on: str) -> Dataset:
        """The smallest value of column ``on`` per group, in a column
        ``min(<on>)`` (e.g. ``min(x)``).

        Args:
            on: a column name.
        """
        return self.aggregate(("min", on))

    def max(self, on: str) -> Dataset:
        """The largest value of column ``on`` per group, in a column
        ``max(<on>)`` (e.g. ``max(x)``).

        Args:
            on: a column name.
        """
        return self.aggregate(("max", on))

    def std(self, on: str) -> Dataset:
        """The sample standard deviation of column ``on`` per group, in a column
        ``std(<on>)`` (e.g. ``std(x)``).

        Args:
            on: a column name.
        """
        return self.aggregate(("std", on))


def _parse_aggregate(spec: Any) -> tuple[str, str | None]:
    from ._shuffle import _AGGREGATES

    if isinstance(spec, str) and spec.endswith(")") and "(" in spec:
        how, column = spec[:-1].split("(", 1)
        spec = (how, column or None)
    if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0] in _AGGREGATES):
        raise ValueError(
            f"unknown aggregate {spec!r}; use ('count', None) or (how, column) with how in "
            f"{', '.join(_AGGREGATES)}, or the string form 'mean(x)'")
    if spec[0] != "count" and not spec[1]:
        raise ValueError(f"aggregate {spec[0]!r} needs a column")
    return spec[0], spec[1]


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")


def _reduce(dataset: Dataset, column: str, how: str, operator: str = "") -> Any:
    """A keyless aggregate: each block is reduced to one row in the task that makes it
    (fused, so no block is stored), then the partial results are combined here."""
    import pyarrow.compute as pc

    partials = dataset._with(BlockAggregate(column, how, operator=operator))
    tables = [ember.get(ref) for ref, rows in partials._stream() if rows]
    values = [v for table in tables for v in table.column("value").to_pylist()
              if v is not None]
    if not values:
        return None
    return getattr(pc, how)(pa.array(values)).as_py()


