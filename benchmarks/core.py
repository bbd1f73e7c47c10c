"""Core-API benchmark: the same task/object workloads on Ember or on Ray.

Usage (from the repo root)::

    python benchmarks/core.py                      # all figures on ember
    python benchmarks/core.py --engine ray         # needs ray importable (see --compare)
    python benchmarks/core.py --only tasks_sync,chain
    python benchmarks/core.py --compare ray        # ember here, ray in benchmarks/.venv-ray, then a table

Prints one figure per line, ``name value unit`` (see ``_compare.py`` for units and for
how ``--compare`` reads them back). Nothing here is a test: there are no thresholds.

The workload code only uses the Ray-compatible core API (``init``, ``remote``, ``get``,
``put``, ``wait``, ``shutdown``), so it is the same code on both engines; the module is
imported as ``rt``. All in-process figures share ONE ``init(num_cpus=2)`` per run;
``import_s`` and ``init_s`` use fresh subprocesses because they measure cold starts.

What ``idle_rss_mb`` (and ``idle_pss_mb``, the CPU-time lines) count: the driver process,
all its descendants (psutil ``children(recursive=True)``), plus any process whose cmdline
mentions the engine (``ray``/``ember`` not preceded by a letter, e.g. ``raylet``,
``ray::IDLE``, ``/ray/``) created since the driver started, minus the driver's own
ancestors. On Ray 2.60 every process it starts (gcs_server, raylet, dashboard, monitor,
log_monitor, agents, workers) is a descendant anyway; the second rule is a safety net for
daemonised helpers. RSS sums double-count shared pages (the object store's shared memory,
shared libraries), so ``idle_pss_mb`` (proportional set size) is printed too.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import psutil

# Run as a script, so this file's folder is on sys.path and the sibling helper imports directly.
from _compare import RAY_ENV, Figure, emit, run_compare

ENGINES = ("ember", "ray")
BACKENDS = ("local", "dask")
INIT_OPTIONS: dict[str, str] = {}  # extra ember.init arguments, e.g. backend="dask"
NUM_CPUS = 2
LARGE_BYTES = 100_000_000  # "100 MB" for put/get/task-arg figures
MEDIUM_BYTES = 10_000_000  # 10 MB, to show get of a large object is size independent
SUBPROCESS_TIMEOUT_S = 600.0


# --------------------------------------------------------------------------- workloads
# Plain functions; they become remote functions at run time via ``rt.remote`` so the same
# code serves both engines. They live at module level so both engines pickle them the same
# way (by value, since this script runs as __main__).


def noop() -> None:
    """The cheapest possible task: measures pure scheduling/round-trip overhead."""


def add_one(x: int) -> int:
    """One link of the dependency chain: the argument is the previous task's result."""
    return x + 1


def first_element(arr: np.ndarray) -> float:
    """Touches a large argument without copying it, so the figure is the arg-passing cost."""
    return float(arr[0])


class Echo:
    """A minimal actor: its calls measure the actor-call path, not user work."""

    def ping(self, x: int = 0) -> int:
        return x


class AsyncEcho:
    """An async actor whose calls overlap while they await."""

    async def ping(self, x: int = 0) -> int:
        import asyncio

        await asyncio.sleep(0.001)
        return x


def make_parent(rt: ModuleType, child: Any, fanout: int) -> Callable[[], int]:
    """A task body that submits ``fanout`` child tasks and blocks on them (nested tasks).

    Built as a closure so the child remote function and the engine module travel with it.
    """

    def parent() -> int:
        return len(rt.get([child.remote() for _ in range(fanout)]))

    return parent


@dataclass
class Remotes:
    """The remote versions of the workloads, for one engine."""

    noop: Any
    add_one: Any
    first_element: Any
    parent: Any
    echo: Any
    async_echo: Any

    @classmethod
    def build(cls, rt: ModuleType) -> Remotes:
        noop_remote = rt.remote(noop)
        return cls(
            noop=noop_remote,
            add_one=rt.remote(add_one),
            first_element=rt.remote(first_element),
            parent=rt.remote(make_parent(rt, noop_remote, fanout=10)),
            echo=rt.remote(Echo),
            async_echo=rt.remote(AsyncEcho),
        )


@dataclass
class Bench:
    """Everything an in-process figure needs: the engine module and its remote functions."""

    engine: str
    rt: ModuleType
    fns: Remotes


# --------------------------------------------------------------------------- measuring


def engine_processes(engine: str) -> list[psutil.Process]:
    """The driver, its descendants, and engine-named processes born after the driver.

    See the module docstring for why the second rule exists.
    """
    me = psutil.Process()
    procs = {me.pid: me}
    procs.update((p.pid, p) for p in me.children(recursive=True))
    ancestors = {p.pid for p in me.parents()}
    born_after = me.create_time()
    pattern = re.compile(rf"(?<![a-z]){engine}", re.IGNORECASE)
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        if proc.pid in procs or proc.pid in ancestors:
            continue
        if (proc.info["create_time"] or 0) < born_after:
            continue
        if pattern.search(" ".join(proc.info["cmdline"] or [])):
            procs[proc.pid] = proc
    return list(procs.values())


def cpu_snapshot(engine: str) -> dict[tuple[int, float], float]:
    """User+system CPU seconds of every engine process, keyed by (pid, create_time)."""
    snapshot: dict[tuple[int, float], float] = {}
    for proc in engine_processes(engine):
        try:
            times = proc.cpu_times()
            snapshot[(proc.pid, proc.create_time())] = times.user + times.system
        except psutil.Error:  # exited in between
            pass
    return snapshot


def cpu_used(before: dict[tuple[int, float], float], after: dict[tuple[int, float], float]) -> float:
    """CPU seconds spent between two snapshots; processes born in between count in full.

    Processes that exited in between are lost (their time cannot be read any more).
    """
    return sum(cpu - before.get(key, 0.0) for key, cpu in after.items())


@dataclass
class Timed:
    """Wall and process-tree CPU seconds of one measured block."""

    wall_s: float = 0.0
    cpu_s: float = 0.0


class measure:
    """Context manager timing a block in wall-clock and engine-wide CPU seconds."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.result = Timed()

    def __enter__(self) -> Timed:
        self._cpu = cpu_snapshot(self.engine)
        self._t0 = time.perf_counter()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.result.wall_s = time.perf_counter() - self._t0
        self.result.cpu_s = cpu_used(self._cpu, cpu_snapshot(self.engine))


def timed_runs(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``, collecting garbage between calls."""
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def large_array(nbytes: int) -> np.ndarray:
    """A float64 array of ``nbytes`` with every page touched (so no lazy-zero-page tricks)."""
    return np.random.default_rng(0).random(nbytes // 8)


def run_python(python: str, code: str) -> str:
    """Run ``python -c code`` in a temp cwd (so the repo's dirs don't shadow installed packages)."""
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(
            [python, "-c", code],
            check=False,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            env={**os.environ, **RAY_ENV},
        )
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def last_float(text: str) -> float:
    """The number a measuring subprocess printed on its last line (engines may print before it)."""
    return float(text.strip().splitlines()[-1])


# --------------------------------------------------------------------------- cold-start figures


def fig_import_s(engine: str) -> list[Figure]:
    """Import time of the engine module alone (interpreter start-up excluded), median of 3.

    A fresh interpreter each time so nothing is cached in ``sys.modules``.
    """
    code = f"import time\nt0 = time.perf_counter()\nimport {engine}\nprint(time.perf_counter() - t0)"
    runs = [last_float(run_python(sys.executable, code)) for _ in range(3)]
    return [emit("import_s", statistics.median(runs), "s")]


_INIT_CODE = """
import time
import {engine} as rt
def noop():
    return None
t0 = time.perf_counter()
rt.init(num_cpus={num_cpus}{extra})
rt.get(rt.remote(noop).remote())
elapsed = time.perf_counter() - t0
rt.shutdown()
print(elapsed)
"""


def fig_init_s(engine: str) -> list[Figure]:
    """Cold start a user feels: ``init(num_cpus=2)`` up to the first task's result.

    Fresh subprocess (the in-process run has already initialised); import is excluded.
    """
    extra = "".join(f", {k}={v!r}" for k, v in INIT_OPTIONS.items()) if engine == "ember" else ""
    code = _INIT_CODE.format(engine=engine, num_cpus=NUM_CPUS, extra=extra)
    return [emit("init_s", last_float(run_python(sys.executable, code)), "s")]


# --------------------------------------------------------------------------- in-process figures


def fig_idle_rss(b: Bench) -> list[Figure]:
    """Memory footprint of an idle engine after init and one task (run first, before any load)."""
    b.rt.get(b.fns.noop.remote())
    time.sleep(2.0)
    rss = pss = 0
    procs = engine_processes(b.engine)
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            pss += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return [
        emit("idle_rss_mb", rss / 2**20, "mb"),
        emit("idle_pss_mb", pss / 2**20, "mb"),
        emit("idle_procs", len(procs), "count"),
    ]


def warm_up(b: Bench) -> None:
    """Start every worker and touch every code path once so first-call costs stay out of figures."""
    b.rt.get([b.fns.noop.remote() for _ in range(4 * NUM_CPUS)])
    b.rt.get(b.fns.add_one.remote(b.fns.add_one.remote(0)))
    b.rt.get(b.rt.put(1))


def fig_tasks_sync(b: Bench, n: int = 1000) -> list[Figure]:
    """Round-trip latency: submit one no-op and wait for it, ``n`` times in a row."""
    with measure(b.engine) as t:
        for _ in range(n):
            b.rt.get(b.fns.noop.remote())
    return [emit("tasks_sync", n / t.wall_s, "per_s"), emit("tasks_sync_cpu_us", t.cpu_s / n * 1e6, "us_per_task")]


def fig_tasks_async(b: Bench, n: int = 10_000) -> list[Figure]:
    """Throughput: submit ``n`` no-ops without waiting, then get them all at once."""
    with measure(b.engine) as t:
        b.rt.get([b.fns.noop.remote() for _ in range(n)])
    return [emit("tasks_async", n / t.wall_s, "per_s"), emit("tasks_async_cpu_us", t.cpu_s / n * 1e6, "us_per_task")]


def fig_put_get_small(b: Bench, n: int = 10_000) -> list[Figure]:
    """Per-object overhead of the object store for tiny values (no data-copy cost to hide it)."""
    t0 = time.perf_counter()
    refs = [b.rt.put(1) for _ in range(n)]
    put_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ref in refs:
        b.rt.get(ref)
    get_s = time.perf_counter() - t0
    return [emit("put_small", n / put_s, "per_s"), emit("get_small", n / get_s, "per_s")]


def fig_put_large(b: Bench, repeats: int = 5) -> list[Figure]:
    """Bandwidth of putting a 100 MB array, against a plain ``arr.copy()`` as the machine's baseline.

    Median of ``repeats``; the ref is dropped between puts so the store does not fill up.
    """
    arr = large_array(LARGE_BYTES)

    def put_and_drop() -> None:
        ref = b.rt.put(arr)
        del ref

    put_s = statistics.median(timed_runs(put_and_drop, repeats))
    copy_s = statistics.median(timed_runs(arr.copy, repeats))
    put_gbps, copy_gbps = LARGE_BYTES / put_s / 1e9, LARGE_BYTES / copy_s / 1e9
    return [
        emit("put_large_gbps", put_gbps, "gb_per_s"),
        emit("numpy_copy_gbps", copy_gbps, "gb_per_s"),
        emit("put_large_vs_numpy_copy", put_gbps / copy_gbps, "x"),
    ]


def get_ms(b: Bench, nbytes: int, repeats: int) -> float:
    """Median ms to ``get`` an already-stored array of ``nbytes`` (result dropped between gets).

    The ref is released when this returns, so the object can be freed before the next figure.
    """
    ref = b.rt.put(large_array(nbytes))
    b.rt.get(ref)  # first get may map the object; the figure is the steady state
    return statistics.median(timed_runs(lambda: b.rt.get(ref), repeats)) * 1e3


def fig_get_large(b: Bench, repeats: int = 7) -> list[Figure]:
    """Latency of getting a stored large array; 100 MB vs 10 MB shows whether it is zero-copy."""
    return [
        emit("get_large_ms", get_ms(b, LARGE_BYTES, repeats), "ms"),
        emit("get_large_ms_10mb", get_ms(b, MEDIUM_BYTES, repeats), "ms"),
    ]


def fig_task_large_arg(b: Bench, n: int = 10) -> list[Figure]:
    """Passing one stored 100 MB object by ref to ``n`` tasks (each reads one element)."""
    ref = b.rt.put(large_array(LARGE_BYTES))
    t0 = time.perf_counter()
    b.rt.get([b.fns.first_element.remote(ref) for _ in range(n)])
    elapsed = time.perf_counter() - t0
    del ref
    return [emit("task_large_arg_s", elapsed, "s")]


def fig_chain(b: Bench, n: int = 1000) -> list[Figure]:
    """Dependency resolution: each task's argument is the previous task's (unresolved) result."""
    with measure(b.engine) as t:
        x = b.fns.add_one.remote(0)
        for _ in range(n - 1):
            x = b.fns.add_one.remote(x)
        result = b.rt.get(x)
    if result != n:
        raise RuntimeError(f"chain returned {result}, expected {n}")
    return [emit("chain", n / t.wall_s, "per_s"), emit("chain_cpu_us", t.cpu_s / n * 1e6, "us_per_task")]


def fig_nested(b: Bench, n: int = 100) -> list[Figure]:
    """Tasks that submit tasks and block on them: needs the engine to lend out the blocked CPU."""
    t0 = time.perf_counter()
    b.rt.get([b.fns.parent.remote() for _ in range(n)])
    return [emit("nested_s", time.perf_counter() - t0, "s")]


def fig_wait(b: Bench, n: int = 1000) -> list[Figure]:
    """Draining ``n`` tasks one ``wait(num_returns=1)`` at a time (the as-completed pattern)."""
    t0 = time.perf_counter()
    rest = [b.fns.noop.remote() for _ in range(n)]
    while rest:
        _ready, rest = b.rt.wait(rest, num_returns=1)
    return [emit("wait_s", time.perf_counter() - t0, "s")]


def fig_actor_sync(b: Bench, n: int = 1000) -> list[Figure]:
    """Actor-call round trip: one call, wait for it, ``n`` times in a row."""
    actor = b.fns.echo.remote()
    b.rt.get([actor.ping.remote() for _ in range(10)])
    with measure(b.engine) as t:
        for _ in range(n):
            b.rt.get(actor.ping.remote())
    return [emit("actor_sync", n / t.wall_s, "per_s"),
            emit("actor_sync_cpu_us", t.cpu_s / n * 1e6, "us_per_call")]


def fig_actor_async(b: Bench, n: int = 10_000) -> list[Figure]:
    """Actor-call throughput: ``n`` calls submitted, then got together."""
    actor = b.fns.echo.remote()
    b.rt.get([actor.ping.remote() for _ in range(10)])
    with measure(b.engine) as t:
        b.rt.get([actor.ping.remote() for _ in range(n)])
    return [emit("actor_async", n / t.wall_s, "per_s"),
            emit("actor_async_cpu_us", t.cpu_s / n * 1e6, "us_per_call")]


def fig_actor_create(b: Bench, n: int = 10) -> list[Figure]:
    """Start-up cost of actors: create ``n`` and get one call back from each."""
    t0 = time.perf_counter()
    actors = [b.fns.echo.remote() for _ in range(n)]
    b.rt.get([actor.ping.remote() for actor in actors])
    elapsed = time.perf_counter() - t0
    for actor in actors:
        b.rt.kill(actor)
    return [emit("actor_create_s", elapsed, "s")]


def fig_async_actor_concurrent(b: Bench, n: int = 1000) -> list[Figure]:
    """``n`` concurrent calls on an async actor, each awaiting 1 ms: they should overlap."""
    actor = b.fns.async_echo.remote()
    b.rt.get(actor.ping.remote())
    t0 = time.perf_counter()
    b.rt.get([actor.ping.remote(i) for i in range(n)])
    return [emit("async_actor_concurrent", time.perf_counter() - t0, "s")]


def fig_plain_dask(b: Bench, n: int = 10_000, repeats: int = 5) -> list[Figure]:
    """The same cluster driven by plain ``client.submit``/``scatter``: Ember's overhead
    on the dask backend is measured against these (only with ``--backend dask``)."""
    from ember.core import _context  # benchmark only: reach the backend's Dask client

    client = _context.current().client
    client.gather([client.submit(noop, pure=False) for _ in range(100)])
    t0 = time.perf_counter()
    client.gather([client.submit(noop, pure=False) for _ in range(n)])
    rate = n / (time.perf_counter() - t0)
    array = large_array(LARGE_BYTES)

    def scatter_and_drop() -> None:
        [future] = client.scatter([array], hash=False)
        future.result()
        del future

    seconds = statistics.median(timed_runs(scatter_and_drop, repeats))
    return [emit("dask_tasks_async", rate, "per_s"),
            emit("dask_put_large_gbps", LARGE_BYTES / seconds / 1e9, "gb_per_s")]


# --------------------------------------------------------------------------- registry and driver


@dataclass(frozen=True)
class Group:
    """One selectable unit of ``--only``: a function and the figure names it prints."""

    name: str
    provides: tuple[str, ...]
    cold: Callable[[str], list[Figure]] | None = None  # runs in fresh subprocesses
    warm: Callable[[Bench], list[Figure]] | None = None  # runs in the shared engine process


# In run order. idle_rss_mb comes first among in-process groups so it sees an idle engine.
GROUPS: tuple[Group, ...] = (
    Group("import_s", ("import_s",), cold=fig_import_s),
    Group("init_s", ("init_s",), cold=fig_init_s),
    Group("idle_rss_mb", ("idle_rss_mb", "idle_pss_mb", "idle_procs"), warm=fig_idle_rss),
    Group("tasks_sync", ("tasks_sync", "tasks_sync_cpu_us"), warm=fig_tasks_sync),
    Group("tasks_async", ("tasks_async", "tasks_async_cpu_us"), warm=fig_tasks_async),
    Group("put_small", ("put_small", "get_small"), warm=fig_put_get_small),
    Group("put_large", ("put_large_gbps", "numpy_copy_gbps", "put_large_vs_numpy_copy"), warm=fig_put_large),
    Group("get_large", ("get_large_ms", "get_large_ms_10mb"), warm=fig_get_large),
    Group("task_large_arg_s", ("task_large_arg_s",), warm=fig_task_large_arg),
    Group("chain", ("chain", "chain_cpu_us"), warm=fig_chain),
    Group("nested_s", ("nested_s",), warm=fig_nested),
    Group("wait_s", ("wait_s",), warm=fig_wait),
    Group("actor_sync", ("actor_sync", "actor_sync_cpu_us"), warm=fig_actor_sync),
    Group("actor_async", ("actor_async", "actor_async_cpu_us"), warm=fig_actor_async),
    Group("actor_create_s", ("actor_create_s",), warm=fig_actor_create),
    Group("async_actor_concurrent", ("async_actor_concurrent",), warm=fig_async_actor_concurrent),
    Group("plain_dask", ("dask_tasks_async", "dask_put_large_gbps"), warm=fig_plain_dask),
)


def select_groups(only: str | None) -> list[Group]:
    """Groups named by ``--only`` (a group name or any figure it provides), in run order."""
    if not only:
        return list(GROUPS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    known = {n for g in GROUPS for n in (g.name, *g.provides)}
    unknown = wanted - known
    if unknown:
        raise SystemExit(f"unknown figure(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return [g for g in GROUPS if wanted & {g.name, *g.provides}]


@dataclass
class Session:
    """One ``init``/``shutdown`` of the engine in this process, shared by all warm groups."""

    engine: str
    _bench: Bench | None = None

    def bench(self) -> Bench:
        if self._bench is None:
            rt = importlib.import_module(self.engine)
            rt.init(num_cpus=NUM_CPUS, **(INIT_OPTIONS if self.engine == "ember" else {}))
            self._bench = Bench(self.engine, rt, Remotes.build(rt))
        return self._bench

    def close(self) -> None:
        if self._bench is not None:
            self._bench.rt.shutdown()
            self._bench = None


def iter_figures(engine: str, groups: Sequence[Group]) -> Iterator[Figure]:
    """Run the selected groups on ``engine``, yielding figures as they are printed."""
    for group in groups:
        if group.cold:
            yield from group.cold(engine)
    warm_groups = [g for g in groups if g.warm]
    if not warm_groups:
        return
    session = Session(engine)
    try:
        bench = session.bench()
        warmed = False
        for group in warm_groups:
            if group.name != "idle_rss_mb" and not warmed:
                warm_up(bench)
                warmed = True
            assert group.warm is not None
            yield from group.warm(bench)
    finally:
        session.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=ENGINES, default="ember", help="engine to measure (default ember)")
    parser.add_argument("--only", help="comma-separated figures or groups to run, e.g. tasks_sync,chain")
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="ember's backend: the embedded engine, or a Dask LocalCluster "
                             "(adds plain Dask figures and Ember's overhead over them)")
    parser.add_argument(
        "--compare",
        choices=("ray",),
        help="measure ember here, then the same figures on Ray in benchmarks/.venv-ray, and print a table",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.compare and args.engine != "ember":
        raise SystemExit("--compare measures ember in this process; leave --engine at its default")
    if args.engine == "ray" or args.compare:
        os.environ.update(RAY_ENV)
    groups = select_groups(args.only)
    if args.backend == "dask":
        INIT_OPTIONS["backend"] = "dask"
    else:
        groups = [g for g in groups if g.name != "plain_dask"]
    engine = "ember" if args.compare else args.engine
    figures = {fig.name: fig for fig in iter_figures(engine, groups)}
    for ours, theirs in (("tasks_async", "dask_tasks_async"),
                         ("put_large_gbps", "dask_put_large_gbps")):
        if ours in figures and theirs in figures:
            # > 1: plain Dask is faster by this factor (the target is at most 1.5)
            emit(f"{ours}_dask_over_ember", figures[theirs].value / figures[ours].value, "x")
    if args.compare:
        child_args = ["--only", args.only] if args.only else []
        run_compare(Path(__file__).resolve(), figures, child_args)


if __name__ == "__main__":
    main()
