"""Chaos for the core: workers, actors and drivers SIGKILLed from outside, nested
fan-outs and cancels that race the dispatcher, thread storms in the driver, and a store
far smaller than what goes through it — on the embedded engine and, where the scenario
applies, on a real Dask cluster. Every result is checked exactly, every wait is bounded
(a hang fails fast), and nothing may be left behind (tests/chaos/conftest.py).

Race loops run their whole body ``N`` times and collect every failure before asserting,
so a failing run reports how often it failed (``k/N``), not just that it did.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import psutil
import pytest
from tests_support import store_stats, wait_for
from tests_support.chaos import (
    RandomKiller,
    live,
    on_dask,
    replace_killed_dask_workers,
    worker_pids,
)

import ember
from ember import ActorDiedError, TaskCancelledError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GET_TIMEOUT_S = 30  # every get is bounded: a hang fails the test instead of the suite


@contextlib.contextmanager
def embedded(**init: object) -> Iterator[None]:
    ember.shutdown()
    ember.init(**init)  # type: ignore[arg-type]
    try:
        yield
    finally:
        ember.shutdown()


def collect_failures(runs: int, body: Callable[[int], None]) -> list[str]:
    """Run ``body(i)`` ``runs`` times; the failures as one line each (type: message)."""
    failures = []
    for i in range(runs):
        try:
            body(i)
        except Exception as error:  # noqa: BLE001 - counted and reported below
            first_line = (str(error).strip().splitlines() or [""])[0]
            failures.append(f"run {i}: {type(error).__name__}: {first_line[:200]}")
    if failures:
        print(f"{len(failures)}/{runs} runs failed; first: {failures[0]}")
    return failures


def assert_no_failures(failures: list[str], runs: int) -> None:
    assert not failures, f"{len(failures)}/{runs} runs failed: " + "; ".join(failures[:5])


# -- 1. random worker SIGKILLs during many small tasks -------------------------------------
def _square(i: int) -> int:
    time.sleep(0.001)  # long enough for a kill to land in a running task
    return i * i


def _many_small_tasks_survive_kills(tasks: int, targets: Callable[[], list[int]],
                                    kills: int, seed: int,
                                    on_kill: Callable[[int], None] | None = None) -> list[int]:
    square = ember.remote(max_retries=kills + 5)(_square)
    # one warm-up result, so there are workers to kill from the start
    assert ember.get(square.remote(3), timeout=GET_TIMEOUT_S) == 9
    with RandomKiller(targets, max_kills=kills, seed=seed, on_kill=on_kill) as killer:
        refs = [square.remote(i) for i in range(tasks)]
        results = ember.get(refs, timeout=GET_TIMEOUT_S * 2)
    assert killer.error is None, f"the killer failed: {killer.error!r}"
    assert results == [i * i for i in range(tasks)]
    return killer.killed


def test_many_small_tasks_are_exact_while_workers_are_sigkilled(repeats):
    with embedded(num_cpus=2):
        killed = []
        for r in range(repeats):
            killed += _many_small_tasks_survive_kills(3000, worker_pids, kills=8, seed=r)
        assert killed, "no worker was killed: the scenario tested nothing"


@pytest.mark.cluster
def test_many_small_tasks_are_exact_while_dask_workers_are_sigkilled(repeats):
    with on_dask(workers=2) as (address, processes):
        killed = []
        for r in range(repeats):
            # Dask re-runs a task lost with its worker up to allowed-failures (3) times,
            # so at most 2 kills a round; each killed worker is replaced.
            killed += _many_small_tasks_survive_kills(
                1000, live(processes), kills=2, seed=r, on_kill=replace_killed_dask_workers(address, processes))
        assert killed, "no worker was killed: the scenario tested nothing"


# -- 2. nested fan-outs; cancelling a queued task ---------------------------------------------
def _inner(x: int) -> int:
    return x * 10


def _outer(base: int, inner) -> int:  # type: ignore[no-untyped-def]
    return sum(ember.get([inner.remote(base + k) for k in range(4)], timeout=GET_TIMEOUT_S))


def _nested_fan_out_once() -> None:
    # fresh functions each run: the first EXEC of a function to a worker is the one
    # carrying its body, and that is what a bounced EXEC used to lose
    inner = ember.remote(_inner)
    outer = ember.remote(_outer)
    bases = [0, 100, 200]
    got = ember.get([outer.remote(b, inner) for b in bases], timeout=GET_TIMEOUT_S)
    assert got == [sum((b + k) * 10 for k in range(4)) for b in bases], got


def test_nested_fan_outs_on_two_cpus_are_exact_every_time(repeats):
    runs = 200 * repeats
    with embedded(num_cpus=2):
        assert_no_failures(collect_failures(runs, lambda i: _nested_fan_out_once()), runs)


@pytest.mark.cluster
def test_nested_fan_outs_on_dask_are_exact_every_time(repeats):
    runs = 20 * repeats
    with on_dask(workers=2):
        assert_no_failures(collect_failures(runs, lambda i: _nested_fan_out_once()), runs)


def _hold(marks: str, tag: str) -> str:
    """Runs until the test writes ``<tag>.go`` (bounded), after saying it started."""
    open(os.path.join(marks, f"{tag}.started"), "w").close()
    deadline = time.monotonic() + GET_TIMEOUT_S
    while not os.path.exists(os.path.join(marks, f"{tag}.go")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tag}: never released")
        time.sleep(0.002)
    return tag


def _plus_one(x: int) -> int:
    return x + 1


def _cancel_a_queued_call_then_call_again(marks: str, i: int) -> None:
    hold = ember.remote(_hold)
    g = ember.remote(_plus_one)  # a fresh function: its first EXEC is the one cancelled
    tag = f"hold{i}"
    long = hold.remote(marks, tag)
    assert wait_for(lambda: os.path.exists(os.path.join(marks, f"{tag}.started")), timeout=30)
    queued = g.remote(i)
    ember.cancel(queued)
    open(os.path.join(marks, f"{tag}.go"), "w").close()
    assert ember.get(long, timeout=GET_TIMEOUT_S) == tag
    with pytest.raises(TaskCancelledError):
        ember.get(queued, timeout=GET_TIMEOUT_S)
    assert ember.get(g.remote(i), timeout=GET_TIMEOUT_S) == i + 1
    assert ember.get([g.remote(i + k) for k in range(3)], timeout=GET_TIMEOUT_S) == \
        [i + k + 1 for k in range(3)]


def test_cancelling_a_queued_task_leaves_its_function_working(repeats, tmp_path):
    runs = 100 * repeats
    with embedded(num_cpus=1):
        failures = collect_failures(runs, lambda i: _cancel_a_queued_call_then_call_again(str(tmp_path), i))
        assert_no_failures(failures, runs)


@pytest.mark.cluster
def test_cancelling_a_queued_task_on_dask_leaves_its_function_working(repeats, tmp_path):
    runs = 10 * repeats
    with on_dask(workers=1):
        failures = collect_failures(runs, lambda i: _cancel_a_queued_call_then_call_again(str(tmp_path), i))
        assert_no_failures(failures, runs)


# -- 3. actors whose process is SIGKILLed -----------------------------------------------------
class _Squarer:
    def __init__(self, marks: str):
        self.marks = marks
        with open(os.path.join(marks, "actor_pids"), "a") as out:
            out.write(f"{os.getpid()}\n")

    def square(self, i: int) -> int:
        time.sleep(0.001)
        return i * i


def _actor_pids(marks: str) -> list[int]:
    """The pids of the actor's incarnations so far (each __init__ appends its pid)."""
    try:
        with open(os.path.join(marks, "actor_pids")) as handle:
            return [int(pid) for pid in handle.read().split()]
    except FileNotFoundError:
        return []


def _kill_actor_mid_calls(actor, marks: str, calls: int, pids_seen: int,
                          allowed: tuple[type[BaseException], ...]) -> int:
    """Submit ``calls`` calls, SIGKILL the actor once one has returned, then check each
    call is exact or one of ``allowed``; returns how many raised."""
    refs = [actor.square.remote(i) for i in range(calls)]
    ready, _ = ember.wait(refs, num_returns=1, timeout=GET_TIMEOUT_S)
    assert ready, "no actor call finished"
    assert wait_for(lambda: len(_actor_pids(marks)) == pids_seen, timeout=30)
    os.kill(_actor_pids(marks)[-1], signal.SIGKILL)
    raised = 0
    for i, ref in enumerate(refs):
        try:
            assert ember.get(ref, timeout=GET_TIMEOUT_S) == i * i
        except allowed:
            raised += 1
    return raised


def _actor_until_restarts_are_exhausted(marks: str, restarts: int,
                                        retried: bool, repeats: int) -> None:
    squarer = ember.remote(_Squarer).options(max_restarts=restarts,
                                             max_task_retries=-1 if retried else 0)
    actor = squarer.remote(marks)
    for kill in range(restarts):
        raised = _kill_actor_mid_calls(actor, marks, 300 * repeats, pids_seen=kill + 1,
                                       allowed=() if retried else (ActorDiedError,))
        assert not (retried and raised)
        # restarted: calls work again, exactly
        assert ember.get([actor.square.remote(i) for i in range(20)], timeout=GET_TIMEOUT_S) == \
            [i * i for i in range(20)]
    # the last kill exhausts the restarts: calls in flight either finished exactly or
    # raise ActorDiedError, and from then on every call raises it
    _kill_actor_mid_calls(actor, marks, 300, pids_seen=restarts + 1, allowed=(ActorDiedError,))
    for i in range(5):
        with pytest.raises(ActorDiedError):
            ember.get(actor.square.remote(i), timeout=GET_TIMEOUT_S)


def test_actor_calls_are_exact_or_actor_died_when_its_process_is_sigkilled(repeats, tmp_path):
    with embedded(num_cpus=2):
        _actor_until_restarts_are_exhausted(str(tmp_path), restarts=3, retried=True, repeats=repeats)


@pytest.mark.cluster
def test_dask_actor_calls_are_exact_or_actor_died_when_its_worker_is_sigkilled(repeats, tmp_path):
    with on_dask(workers=2) as (address, processes):
        replace = replace_killed_dask_workers(address, processes)
        # on Dask calls in flight raise ActorDiedError (no max_task_retries); a killed
        # worker is replaced so the restarted actor has somewhere to go
        squarer = ember.remote(_Squarer).options(max_restarts=1)
        actor = squarer.remote(str(tmp_path))
        _kill_actor_mid_calls(actor, str(tmp_path), 100 * repeats, pids_seen=1,
                              allowed=(ActorDiedError,))
        replace(0)
        assert ember.get([actor.square.remote(i) for i in range(20)], timeout=GET_TIMEOUT_S) == \
            [i * i for i in range(20)]
        _kill_actor_mid_calls(actor, str(tmp_path), 100, pids_seen=2, allowed=(ActorDiedError,))
        replace(0)
        with pytest.raises(ActorDiedError):
            ember.get(actor.square.remote(1), timeout=GET_TIMEOUT_S)


# -- 4. the driver SIGKILLed ----------------------------------------------------------------
DRIVER = textwrap.dedent("""
    import json, os, time
    import numpy as np
    import ember

    ember.init(num_cpus=2, object_store_memory=32 << 20)

    @ember.remote
    def pid():
        time.sleep(0.05)
        return os.getpid()

    @ember.remote
    def busy(i):
        time.sleep(0.01)
        return i

    @ember.remote
    class Holder:
        def __init__(self, array):
            self.array = array
        def pid(self):
            return os.getpid()

    arrays = [ember.put(np.full(8 << 20, i, dtype=np.uint8)) for i in range(8)]  # spills
    actors = [Holder.remote(arrays[i]) for i in range(2)]
    pids = set(ember.get([pid.remote() for _ in range(4)]))
    pids |= set(ember.get([a.pid.remote() for a in actors]))
    print(json.dumps(sorted(pids)), flush=True)
    while True:  # keep everything busy until the SIGKILL
        ember.get([busy.remote(i) for i in range(50)])
        arrays.append(ember.put(np.ones(4 << 20, dtype=np.uint8)))
        arrays = arrays[-8:]
""")


def _ember_shm() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if "ember" in name} \
        if os.path.isdir("/dev/shm") else set()


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_nothing_remains_after_the_driver_is_sigkilled_mid_run(repeats, tmp_path):
    spill_parent = tmp_path / "spill"
    spill_parent.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    shm_before = _ember_shm()
    for r in range(repeats):
        env = {**os.environ, "EMBER_SPILL_DIR": str(spill_parent)}
        driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                  text=True, cwd=REPO, env=env)
        try:
            line = driver.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the driver died before it was ready (exit {driver.poll()})"
            workers = json.loads(line)
            assert len(workers) >= 3, workers  # task workers and the two actors
            tree = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
            assert set(workers) <= set(tree), (workers, tree)
            assert any(spill_parent.iterdir()), "the driver never spilled"
            time.sleep(random.Random(r).uniform(0.0, 0.3))  # a random moment mid-run
            driver.send_signal(signal.SIGKILL)
            driver.wait(timeout=30)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
            driver.stdout.close()  # type: ignore[union-attr]
        assert wait_for(lambda tree=tree: not _alive(tree), timeout=30), \
            f"outlived the driver: {_alive(tree)}"
        assert wait_for(lambda: not any(spill_parent.iterdir()), timeout=30), \
            f"spill left behind: {list(spill_parent.iterdir())}"
        assert _ember_shm() <= shm_before, f"/dev/shm left behind: {_ember_shm() - shm_before}"


# -- 5. thread storms in the driver ------------------------------------------------------------
def _add(a: int, b: int) -> int:
    return a + b


def _until_cancelled() -> None:
    # short sleeps: on Dask a cancel lands only between blocking calls
    deadline = time.monotonic() + GET_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(0.01)


def _storm(threads: int, iterations: int, seed: int) -> None:
    """``threads`` driver threads each do ``iterations`` random operations."""
    add = ember.remote(_add)
    hang = ember.remote(max_retries=0)(_until_cancelled)
    errors: list[str] = []
    counts = {"put": 0, "remote": 0, "wait": 0, "cancel": 0}
    doing: dict[int, str] = {}  # what each thread is in, for the message if one hangs
    lock = threading.Lock()

    def one_thread(t: int) -> None:
        rng = random.Random(seed * 1000 + t)
        try:
            for i in range(iterations):
                op = rng.choice(list(counts))
                doing[t] = f"iteration {i}: {op}"
                if op == "put":
                    value = np.arange(rng.choice([10, 200_000]), dtype=np.int64) + t * i
                    got = ember.get(ember.put(value), timeout=GET_TIMEOUT_S)
                    assert np.array_equal(got, value)
                elif op == "remote":
                    refs = [add.remote(t, k) for k in range(rng.randint(1, 20))]
                    assert ember.get(refs, timeout=GET_TIMEOUT_S) == [t + k for k in range(len(refs))]
                elif op == "wait":
                    refs = [add.remote(ember.put(i), k) for k in range(5)]
                    ready, rest = ember.wait(refs, num_returns=5, timeout=GET_TIMEOUT_S)
                    assert not rest and len(ready) == 5
                    assert sorted(ember.get(ready, timeout=GET_TIMEOUT_S)) == [i + k for k in range(5)]
                else:
                    ref = hang.remote()
                    ember.cancel(ref)
                    with pytest.raises(TaskCancelledError):
                        ember.get(ref, timeout=GET_TIMEOUT_S)
                with lock:
                    counts[op] += 1
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            with lock:
                errors.append(f"thread {t}: {type(error).__name__}: {error}"[:300])

    workers = [threading.Thread(target=one_thread, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 80  # under pytest's 120 s, so the message is ours
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [doing.get(t) for t, w in enumerate(workers) if w.is_alive()]
    assert not hung, f"{len(hung)}/{threads} storm threads hung in: {hung}; errors: {errors[:3]}"
    assert not errors, f"{len(errors)}/{threads} threads failed: {errors[:3]}"
    assert sum(counts.values()) == threads * iterations and all(counts.values()), counts


def test_thread_storm_of_put_get_remote_cancel_wait_is_exact(repeats):
    with embedded(num_cpus=2):
        for r in range(repeats):
            _storm(threads=12, iterations=40, seed=r)


@pytest.mark.cluster
def test_thread_storm_on_dask_is_exact(repeats):
    with on_dask(workers=2):
        for r in range(repeats):
            _storm(threads=8, iterations=15, seed=r)


# -- 6. a small object store under 10x its size ------------------------------------------------
_STORE = 64 << 20
_ARRAY_WORDS = (4 << 20) // 8  # 4 MB arrays


def _expected(i: int) -> np.ndarray:
    return np.arange(_ARRAY_WORDS, dtype=np.int64) * 7 + i


def _checksum(array: np.ndarray) -> int:
    return int(array.sum())


def test_a_small_store_keeps_every_byte_under_ten_times_its_size(repeats):
    with embedded(num_cpus=2, object_store_memory=_STORE):
        from ember.core._context import current

        spill_dir = current().spill_dir
        checksum = ember.remote(_checksum)
        per_wave = 40  # 160 MB held at once: 2.5x the store
        waves = 4 * repeats  # 640 MB in all: 10x the store
        for wave in range(waves):
            ids = range(wave * per_wave, (wave + 1) * per_wave)
            refs = {i: ember.put(_expected(i)) for i in ids}
            for i in random.Random(wave).sample(list(ids), per_wave):  # LRU order scrambled
                assert np.array_equal(ember.get(refs[i], timeout=GET_TIMEOUT_S), _expected(i)), i
            sums = ember.get([checksum.remote(refs[i]) for i in ids], timeout=GET_TIMEOUT_S)
            assert sums == [int(_expected(i).sum()) for i in ids]
            del refs  # the wave is dropped: its spill files must go
        stats = store_stats()
        assert stats["spilled_total"] and stats["restored_total"], f"nothing spilled: {stats}"
        assert wait_for(lambda: not os.path.isdir(spill_dir) or not os.listdir(spill_dir),
                        timeout=30), f"spill files left: {os.listdir(spill_dir)}"
