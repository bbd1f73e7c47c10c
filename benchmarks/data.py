"""Data benchmark: the same parquet workloads on ember.data, on Ray Data, or on plain pyarrow.

Usage (from the repo root)::

    python benchmarks/data.py                     # ember, the pyarrow baseline, and the ratios
    python benchmarks/data.py --rows 2000000      # a smaller dataset for a quick run
    python benchmarks/data.py --engine pyarrow    # the baseline alone (unprefixed names)
    python benchmarks/data.py --engine ray        # needs ray[data] importable (see --compare)
    python benchmarks/data.py --compare ray       # ember + baseline here, ray in benchmarks/.venv-ray, table

Prints one figure per line, ``name value unit`` (see ``_compare.py``). Nothing here is a
test: there are no thresholds, the targets below are only printed context.

The dataset (made once, cached in ``benchmarks/.data-cache/rows-<N>/``, git-ignored):
10 parquet files, ``--rows`` rows in all (default 10M), 4 row groups per file, columns
``id`` int64, ``x`` and ``y`` float64 in [0, 1), ``cat`` string with 10 distinct values.

Workloads (each timed end to end, plan construction included; after one untimed run of
every workload on the first two files, the median of ``--repeats`` runs):

=========================  ==========================================================
``map_sum_rows_per_s``     read_parquet(x, y) -> map_batches(z = 2x + y) -> sum(z)
``iter_batches_rows_per_s``  read_parquet -> iter_batches(1024, Arrow batches), all rows
``shuffle_rows_per_s``     read the first files (1M rows) -> random_shuffle -> iterate
``groupby_s``              read_parquet(cat, x) -> groupby(cat).mean(x) -> take_all
``peak_pss_mb``            peak PSS of this process and all its descendants, over one
                           untimed pass of every workload (sampling /proc costs CPU)
=========================  ==========================================================

The workload code only uses names both ``ember.data`` and ``ray.data`` have, so it is the
same code on both engines (the data module is passed around as ``rd``). Both engines run
with ``init(num_cpus=2)``. Batches are Arrow (``batch_format="pyarrow"``) where the
baseline sees Arrow too (iterating, shuffling), so the figures measure the engine rather
than a numpy conversion of the string column. ``map_batches`` uses numpy batches and the
engine's default batch size, as a user would write it: note the defaults differ (Ember:
1024 rows, Ray's legacy default; Ray 2.60: ``None``, whole blocks). Columns are projected
with ``read_parquet(columns=)`` (Ray 2.60 warns that it prefers ``select_columns``).

Baseline: the same workloads with plain pyarrow, single-threaded (``pa.set_cpu_count(1)``,
``pa.set_io_thread_count(1)``, ``use_threads=False``), in one process. An ember (or ray)
run starts it first as a child ``--engine pyarrow`` process (skip with ``--no-baseline``),
prints its figures with a ``pyarrow_`` prefix, then ``<workload>_vs_pyarrow`` lines (unit
``x``, > 1 means the engine beats the baseline: engine/pyarrow for rates, pyarrow/engine
for seconds and memory).
Targets for ember: map_sum >= 1.5x, iter_batches >= 0.8x, groupby >= 1x, shuffle >= 0.5x,
and a peak PSS below 1/3 of Ray Data's (``peak_pss_vs_ray`` >= 3 after ``--compare ray``).

``peak_pss_mb`` is sampled every 50 ms by a background thread: the driver plus
``children(recursive=True)`` (Ember's zygote and workers; on Ray 2.60 also every daemon:
gcs_server, raylet, workers... are descendants of the driver). PSS, not RSS, so shared
pages (the object store, shared libraries) count once, split across the processes.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Self

import numpy as np
import psutil

# Run as a script, so this file's folder is on sys.path and the sibling helper imports directly.
from _compare import (
    BENCH_DIR,
    RAY_ENV,
    RAY_VERSION,
    Figure,
    emit,
    ensure_ray_venv,
    format_table,
    parse_figures,
    run_child,
)

ENGINES = ("ember", "ray", "pyarrow")
NUM_CPUS = 2
DEFAULT_ROWS = 10_000_000
NUM_FILES = 10
ROW_GROUPS_PER_FILE = 4
NUM_CATEGORIES = 10
SHUFFLE_ROWS = 1_000_000
ITER_BATCH_SIZE = 1024
SAMPLE_INTERVAL_S = 0.05
CACHE_DIR = BENCH_DIR / ".data-cache"
#: aiohttp: Ray Data 2.60 imports fsspec's HTTP filesystem on every read_parquet and only
#: tolerates ModuleNotFoundError; a recent fsspec without aiohttp fails with ImportError.
RAY_DATA_PACKAGES = (f"ray[data]=={RAY_VERSION}", "numpy", "psutil", "pandas", "pyarrow", "aiohttp")
SUBPROCESS_TIMEOUT_S = 3600.0


# --------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class DataFiles:
    """The cached parquet files and the subset the shuffle reads."""

    paths: list[str]
    rows: int
    shuffle_paths: list[str]
    shuffle_rows: int


def make_file(path: Path, start: int, rows: int, seed: int) -> None:
    """One parquet file of ``rows`` rows with ids from ``start``, split into a few row groups.

    Written with pyarrow directly (not an engine) so every engine reads identical bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    categories = np.array([f"cat_{i}" for i in range(NUM_CATEGORIES)])
    table = pa.table({
        "id": pa.array(np.arange(start, start + rows, dtype=np.int64)),
        "x": pa.array(rng.random(rows)),
        "y": pa.array(rng.random(rows)),
        "cat": pa.array(categories[rng.integers(0, NUM_CATEGORIES, rows)], type=pa.string()),
    })
    pq.write_table(table, path, row_group_size=max(1, math.ceil(rows / ROW_GROUPS_PER_FILE)))


def ensure_dataset(rows: int) -> DataFiles:
    """The dataset for ``rows`` rows, generated on first use into a temp dir then renamed.

    The rename makes a half-written dataset (an interrupted run) invisible, so the cache
    never needs validating; the Ray child finds the parent's files through the same path.
    """
    if rows < NUM_FILES:
        raise SystemExit(f"--rows must be at least {NUM_FILES}")
    target = CACHE_DIR / f"rows-{rows}"
    if not target.exists():
        staging = CACHE_DIR / f".rows-{rows}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        print(f"[data] generating {rows:,} rows into {target}", file=sys.stderr, flush=True)
        start = 0
        for index in range(NUM_FILES):
            count = rows * (index + 1) // NUM_FILES - start
            make_file(staging / f"part-{index:02d}.parquet", start, count, seed=index)
            start += count
        try:
            staging.rename(target)
        except OSError:  # a concurrent run won the race: use its files
            shutil.rmtree(staging, ignore_errors=True)
    return describe_files(sorted(str(p) for p in target.glob("part-*.parquet")))


def describe_files(paths: list[str]) -> DataFiles:
    """Row counts from the parquet footers; the shuffle takes whole files up to 1M rows."""
    import pyarrow.parquet as pq

    counts = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    shuffle_paths, shuffle_rows = [], 0
    for path, count in zip(paths, counts):
        if shuffle_rows >= SHUFFLE_ROWS:
            break
        shuffle_paths.append(path)
        shuffle_rows += count
    return DataFiles(paths, sum(counts), shuffle_paths, shuffle_rows)


# --------------------------------------------------------------------------- engine workloads
# Each returns what it processed (rows, or groups) and raises if the answer is wrong, so a
# fast figure can never come from skipped work. ``rd`` is ember.data or ray.data.


def add_z(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The map of map_sum: one cheap vectorised column, so the figure is engine overhead + I/O."""
    return {"z": 2 * batch["x"] + batch["y"]}


def check_z_sum(total: float, rows: int) -> None:
    """x and y are uniform in [0, 1), so 2x + y averages 1.5; a wrong row count shows up."""
    if not math.isclose(total / rows, 1.5, rel_tol=0.01):
        raise RuntimeError(f"sum(z) = {total} over {rows} rows: mean {total / rows}, expected ~1.5")


def engine_map_sum(rd: ModuleType, files: DataFiles) -> int:
    """read -> map_batches -> sum: a fully streamed pipeline, only a number reaches the driver."""
    ds = rd.read_parquet(files.paths, columns=["x", "y"])
    total = ds.map_batches(add_z, batch_format="numpy").sum("z")
    check_z_sum(total, files.rows)
    return files.rows


def engine_iter_batches(rd: ModuleType, files: DataFiles) -> int:
    """Streaming every row to the driver in small batches: the data-loader pattern."""
    rows = 0
    for batch in rd.read_parquet(files.paths).iter_batches(batch_size=ITER_BATCH_SIZE, batch_format="pyarrow"):
        rows += batch.num_rows
    return check_rows(rows, files.rows)


def engine_shuffle(rd: ModuleType, files: DataFiles) -> int:
    """An all-to-all exchange of ~1M rows, consumed as whole blocks at the driver."""
    ds = rd.read_parquet(files.shuffle_paths).random_shuffle(seed=0)
    rows = sum(batch.num_rows for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"))
    return check_rows(rows, files.shuffle_rows)


def engine_groupby(rd: ModuleType, files: DataFiles) -> int:
    """A keyed aggregation over every row; the result (10 rows) is pulled to the driver."""
    groups = rd.read_parquet(files.paths, columns=["cat", "x"]).groupby("cat").mean("x").take_all()
    return check_groups(len(groups))


def check_rows(rows: int, expected: int) -> int:
    """Every row must arrive exactly once."""
    if rows != expected:
        raise RuntimeError(f"got {rows} rows, expected {expected}")
    return rows


def check_groups(groups: int) -> int:
    """groupby(cat) must give one row per category."""
    if groups != NUM_CATEGORIES:
        raise RuntimeError(f"groupby gave {groups} groups, expected {NUM_CATEGORIES}")
    return groups


# --------------------------------------------------------------------------- pyarrow baseline


def baseline_map_sum(files: DataFiles) -> int:
    """File by file: read x, y; 2x + y with pyarrow.compute; sum (streams, like the engines)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = 0.0
    for path in files.paths:
        table = pq.read_table(path, columns=["x", "y"], use_threads=False)
        total += pc.sum(pc.add(pc.multiply(table["x"], 2.0), table["y"])).as_py()
    check_z_sum(total, files.rows)
    return files.rows


def baseline_iter_batches(files: DataFiles) -> int:
    """pyarrow's own streaming reader, 1024-row record batches, file after file."""
    import pyarrow.parquet as pq

    rows = 0
    for path in files.paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ITER_BATCH_SIZE, use_threads=False):
            rows += batch.num_rows
    return check_rows(rows, files.rows)


def baseline_shuffle(files: DataFiles) -> int:
    """Read the same ~1M rows and gather them through one random permutation."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p, use_threads=False) for p in files.shuffle_paths])
    permutation = np.random.default_rng(0).permutation(table.num_rows)
    shuffled = table.take(pa.array(permutation))
    return check_rows(shuffled.num_rows, files.shuffle_rows)


def baseline_groupby(files: DataFiles) -> int:
    """Read cat, x of every file into one table and aggregate it in one hash group-by."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p, columns=["cat", "x"], use_threads=False) for p in files.paths])
    result = table.group_by("cat", use_threads=False).aggregate([("x", "mean")])
    return check_groups(result.num_rows)


def single_threaded_pyarrow() -> None:
    """The baseline is one core's worth of pyarrow: no hidden thread pools."""
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Workload:
    """One figure: how each side runs it. Rates are rows/s of what the function returned."""

    name: str  # short name, for the ``<name>_vs_pyarrow`` ratio line
    figure: str
    unit: str  # "rows_per_s" (higher is better) or "s"
    on_engine: Callable[[ModuleType, DataFiles], int]
    on_baseline: Callable[[DataFiles], int]


WORKLOADS: tuple[Workload, ...] = (
    Workload("map_sum", "map_sum_rows_per_s", "rows_per_s", engine_map_sum, baseline_map_sum),
    Workload("iter_batches", "iter_batches_rows_per_s", "rows_per_s", engine_iter_batches, baseline_iter_batches),
    Workload("shuffle", "shuffle_rows_per_s", "rows_per_s", engine_shuffle, baseline_shuffle),
    Workload("groupby", "groupby_s", "s", engine_groupby, baseline_groupby),
)
PEAK_PSS = "peak_pss_mb"


class PeakPss:
    """Context manager sampling the PSS of this process tree in a background thread.

    Sampling (rather than reading once at the end) is the only way to see the peak of a
    pipeline whose blocks come and go; 50 ms is fine-grained enough for blocks of ~1M rows.
    """

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-pss", daemon=True)

    @staticmethod
    def tree_pss() -> int:
        """PSS bytes of this process and all its descendants (those that exit mid-read are skipped)."""
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self.tree_pss())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self.tree_pss())


def warm_up(run: Callable[[Workload, DataFiles], int], files: DataFiles) -> None:
    """Run every workload once, untimed, on the first two files.

    First calls are expensive everywhere and are not what the figures are about: workers
    start, and each process's first parquet read imports pyarrow.dataset (~0.15 s, which
    alone halves a 2M-row figure); Ray also builds its shuffle machinery on first use.
    """
    small = describe_files(files.paths[:NUM_CPUS])
    for workload in WORKLOADS:
        run(workload, small)


def median_seconds(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Median wall seconds of ``repeats`` calls (garbage collected between) and what the last processed."""
    times, done = [], 0
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        done = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), done


def measure_workloads(run: Callable[[Workload, DataFiles], int], files: DataFiles,
                      repeats: int) -> list[Figure]:
    """Warm up, then time every workload through ``run`` and print its figure at once."""
    warm_up(run, files)
    figures = []
    for workload in WORKLOADS:
        seconds, done = median_seconds(lambda: run(workload, files), repeats)  # noqa: B023 - called at once, inside this iteration
        value = seconds if workload.unit == "s" else done / seconds
        figures.append(emit(workload.figure, value, workload.unit))
    return figures


def peak_pss_pass(run: Callable[[Workload, DataFiles], int], files: DataFiles) -> Figure:
    """Every workload once more under the PSS sampler. A separate pass, because sampling
    /proc for every process costs CPU that would otherwise skew the timed figures (more
    for a 2-process engine than for a 1-thread baseline, which leaves a core idle)."""
    with PeakPss() as pss:
        for workload in WORKLOADS:
            run(workload, files)
    return emit(PEAK_PSS, pss.peak_bytes / 2**20, "mb")


def run_engine(engine: str, files: DataFiles, repeats: int) -> list[Figure]:
    """Every workload on ember or ray: one ``init(num_cpus=2)``, always shut down."""
    rt = importlib.import_module(engine)
    rd = importlib.import_module(f"{engine}.data")
    run: Callable[[Workload, DataFiles], int] = lambda w, f: w.on_engine(rd, f)
    rt.init(num_cpus=NUM_CPUS)
    try:
        rd.DataContext.get_current().enable_progress_bars = False
        figures = measure_workloads(run, files, repeats)
        figures.append(peak_pss_pass(run, files))
    finally:
        rt.shutdown()
    return figures


def run_baseline_here(files: DataFiles, repeats: int) -> list[Figure]:
    """Every workload on single-threaded pyarrow in this process."""
    single_threaded_pyarrow()
    run: Callable[[Workload, DataFiles], int] = lambda w, f: w.on_baseline(f)
    figures = measure_workloads(run, files, repeats)
    return [*figures, peak_pss_pass(run, files)]


def run_baseline_child(rows: int, repeats: int) -> dict[str, Figure]:
    """The baseline in a fresh process, so its peak PSS and thread settings are its own."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--engine", "pyarrow",
           "--rows", str(rows), "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pyarrow baseline failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return parse_figures(done.stdout.splitlines())


def vs_pyarrow(engine: Mapping[str, Figure], baseline: Mapping[str, Figure]) -> dict[str, Figure]:
    """``<workload>_vs_pyarrow`` ratios, oriented so > 1 means the engine beats the baseline."""
    ratios: dict[str, Figure] = {}
    pairs = [(w.name, w.figure, w.unit != "s") for w in WORKLOADS] + [("peak_pss", PEAK_PSS, False)]
    for name, figure, higher_better in pairs:
        if figure in engine and figure in baseline:
            ours, theirs = engine[figure].value, baseline[figure].value
            ratio = ours / theirs if higher_better else theirs / ours
            ratios[f"{name}_vs_pyarrow"] = Figure(f"{name}_vs_pyarrow", ratio, "x")
    return ratios


def compare_with_ray(ember: Mapping[str, Figure], baseline: Mapping[str, Figure], rows: int,
                     repeats: int) -> None:
    """Run this script with ``--engine ray`` in the Ray venv and print the ember-vs-ray table.

    The Ray child skips the baseline (measured once, here); its ``_vs_pyarrow`` ratios are
    computed from this run's baseline so the table has them for both engines.
    """
    python = ensure_ray_venv(RAY_DATA_PACKAGES)
    args = ["--engine", "ray", "--rows", str(rows), "--repeats", str(repeats), "--no-baseline"]
    ray = run_child(python, Path(__file__).resolve(), args, env=RAY_ENV, label="ray",
                    timeout_s=SUBPROCESS_TIMEOUT_S)
    ray.update(vs_pyarrow(ray, baseline))
    print()
    print(format_table(ember, ray), flush=True)
    if PEAK_PSS in ember and PEAK_PSS in ray:
        # target: >= 3 (ember's peak memory below a third of Ray Data's)
        emit("peak_pss_vs_ray", ray[PEAK_PSS].value / ember[PEAK_PSS].value, "x")


# --------------------------------------------------------------------------- driver


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=ENGINES, default="ember", help="what to measure (default ember)")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="dataset size (default 10,000,000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per workload, after one warm-up; the median is printed (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pyarrow baseline and ratios")
    parser.add_argument("--compare", choices=("ray",),
                        help="measure ember here, then the same workloads on Ray Data in benchmarks/.venv-ray")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.compare and args.engine != "ember":
        raise SystemExit("--compare measures ember in this process; leave --engine at its default")
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    if args.engine == "ray" or args.compare:
        os.environ.update(RAY_ENV)
    files = ensure_dataset(args.rows)
    if args.engine == "pyarrow":
        run_baseline_here(files, args.repeats)
        return
    baseline: dict[str, Figure] = {}
    if not args.no_baseline:
        for figure in run_baseline_child(args.rows, args.repeats).values():
            baseline[figure.name] = figure
            emit(f"pyarrow_{figure.name}", figure.value, figure.unit)
    figures = {fig.name: fig for fig in run_engine(args.engine, files, args.repeats)}
    for ratio in vs_pyarrow(figures, baseline).values():
        figures[ratio.name] = emit(ratio.name, ratio.value, ratio.unit)
    if args.compare:
        compare_with_ray(figures, baseline, args.rows, args.repeats)


if __name__ == "__main__":
    main()
