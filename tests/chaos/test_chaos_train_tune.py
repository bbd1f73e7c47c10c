"""Chaos for train and tune: the worker processes that run trials and training ranks are
SIGKILLed from outside at random moments, and every run still ends with exact results
(each step counted once, resumed from the right checkpoint) and nothing left behind.

A killer thread picks its targets from the pid files the trainables write; the
trainables hold their last step until the killer has made all its kills, so every kill
lands in a running trial or rank, never after the run is over.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import Self

import psutil
import pytest
from tests_support import wait_for

import ember
from ember import train, tune

torch = pytest.importorskip("torch")

_KILLS_DONE = "kills_done"
_WORK_S = 0.02  # a little work per step, so a kill can land in the middle of one


class Killer(threading.Thread):
    """SIGKILL ``kills`` processes, each a random live one among those that wrote a pid
    file ``<prefix><pid>`` into ``marks``, each at a random moment; then write
    ``kills_done``."""

    def __init__(self, marks: str, kills: int, seed: int, prefix: str = "pid_"):
        super().__init__(daemon=True)
        self.marks, self.kills, self.prefix = marks, kills, prefix
        self.rng = random.Random(seed)
        self.killed: list[int] = []
        self.error: str | None = None
        self.stopping = threading.Event()

    def _targets(self) -> list[int]:
        ours = {p.pid for p in psutil.Process().children(recursive=True)}
        pids = [int(name[len(self.prefix):]) for name in os.listdir(self.marks)
                if name.startswith(self.prefix)]
        return [pid for pid in pids if pid in ours and pid not in self.killed]

    def run(self) -> None:
        try:
            while len(self.killed) < self.kills and not self.stopping.is_set():
                targets = wait_for(self._targets, timeout=60)
                if not targets:
                    self.error = f"no live target after {len(self.killed)} kill(s)"
                    return
                self.stopping.wait(self.rng.uniform(0.0, 0.2))  # a random moment
                pid = self.rng.choice(targets)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.killed.append(pid)
        finally:
            open(os.path.join(self.marks, _KILLS_DONE), "w").close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join(timeout=30)


def _hold_until_the_kills_are_done(marks: str) -> None:
    """Poll with a deadline (inline: tests_support is not importable in a Dask worker)."""
    deadline = time.monotonic() + 90
    while not os.path.exists(os.path.join(marks, _KILLS_DONE)):
        assert time.monotonic() < deadline, "the killer never finished"
        time.sleep(0.02)


def _save(marks: str, tag: str, **values: float) -> train.Checkpoint:
    folder = os.path.join(marks, f"checkpoint_{tag}_{os.getpid()}_{time.monotonic_ns()}")
    os.makedirs(folder)
    for key, value in values.items():
        with open(os.path.join(folder, key), "w") as out:
            out.write(repr(value))
    return train.Checkpoint.from_directory(folder)


def _load(checkpoint: train.Checkpoint | None, *keys: str) -> list[float] | None:
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        return [float(open(os.path.join(folder, key)).read()) for key in keys]


# -- tune ---------------------------------------------------------------------------------
_STEPS = 8


def _counting_trial(config):
    """Adds x * i for i in 0..7, checkpointing after every step."""
    marks = config["marks"]
    open(os.path.join(marks, f"pid_{os.getpid()}"), "w").close()
    start, total = 0, 0.0
    saved = _load(tune.get_checkpoint(), "i", "total")
    if saved is not None:
        start, total = int(saved[0]) + 1, saved[1]
    for i in range(start, _STEPS):
        time.sleep(_WORK_S)
        if i == _STEPS - 1:
            _hold_until_the_kills_are_done(marks)
        total += config["x"] * i
        tune.report({"i": i, "total": total},
                    checkpoint=_save(marks, f"x{config['x']}", i=i, total=total))


def _tune_under_kills(tmp_path, repeats: int, seed: int, failures_per_kill: int = 1) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    xs = [1, 2, 3, 4]
    kills = 2 * repeats
    tuner = tune.Tuner(
        _counting_trial, param_space={"x": tune.grid_search(xs), "marks": str(marks)},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), name="exp", verbose=0,
            failure_config=train.FailureConfig(max_failures=kills * failures_per_kill)))
    with Killer(str(marks), kills, seed) as killer:
        grid = tuner.fit()
    assert killer.error is None and len(killer.killed) == kills
    assert not grid.errors, grid.errors
    by_x = {r.config["x"]: r for r in grid}
    assert sorted(by_x) == xs
    for x, result in by_x.items():
        assert result.metrics["i"] == _STEPS - 1
        assert result.metrics["total"] == x * sum(range(_STEPS))  # no step lost or doubled
        assert [m["i"] for m in result.metrics_history] == list(range(_STEPS))


def test_tuner_trials_killed_at_random_still_end_with_exact_results(tmp_path, repeats):
    ember.init(num_cpus=2)
    _tune_under_kills(tmp_path, repeats, seed=16)


# -- train --------------------------------------------------------------------------------
def _epochs(config):
    """Each rank keeps its own running sum of (rank + 1) * epoch in a file of its own per
    epoch (a sharded state, as a rank's optimizer shard would be) and rank 0 checkpoints
    the epoch; the total reported is the all-reduced sum (3 * sum of epochs). A restart
    reads every rank's file of the committed epoch: it exists only if report is a
    collective, since rank 1 writes it after the all-reduce rank 0 could run ahead of."""
    import torch.distributed as dist

    marks = config["marks"]
    rank = train.get_context().get_world_rank()
    open(os.path.join(marks, f"rank_{os.getpid()}"), "w").close()
    start, mine = 0, 0.0
    saved = _load(train.get_checkpoint(), "epoch")
    if saved is not None:
        start = int(saved[0]) + 1
        with open(os.path.join(marks, f"state_r{rank}_e{start - 1}")) as source:
            mine = float(source.read())
    for epoch in range(start, config["epochs"]):
        time.sleep(_WORK_S)
        if epoch == config["epochs"] - 1:
            _hold_until_the_kills_are_done(marks)
        mine += (rank + 1) * epoch
        total = torch.tensor([mine])
        dist.all_reduce(total)
        time.sleep(3 * _WORK_S * rank)  # saving its shard: rank 1's takes longer than rank 0's
        state = os.path.join(marks, f"state_r{rank}_e{epoch}")
        with open(state + ".tmp", "w") as out:
            out.write(repr(mine))
        os.replace(state + ".tmp", state)
        checkpoint = _save(marks, "run", epoch=epoch) if rank == 0 else None
        train.report({"epoch": epoch, "total": total.item(), "started_at": start},
                     checkpoint=checkpoint)


def _train_under_kills(tmp_path, repeats: int, seed: int, failures_per_kill: int = 1) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    kills, epochs = 3 * repeats, 6 + 3 * repeats
    trainer = train.TorchTrainer(
        _epochs, train_loop_config={"epochs": epochs, "marks": str(marks)},
        scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0,
                                   failure_config=train.FailureConfig(
                                       max_failures=kills * failures_per_kill)))
    with Killer(str(marks), kills, seed, prefix="rank_") as killer:
        result = trainer.fit()
    assert killer.error is None and len(killer.killed) == kills
    assert result.error is None
    frame = result.metrics_dataframe
    assert list(frame["epoch"]) == list(range(epochs))  # every epoch's metrics once
    assert list(frame["total"]) == [3.0 * sum(range(e + 1)) for e in range(epochs)]
    assert result.checkpoint.path.endswith(f"checkpoint_{epochs - 1:06d}")
    assert sorted(os.listdir(tmp_path / "run")) == [f"checkpoint_{i:06d}" for i in range(epochs)]


def test_torch_trainer_rank_killed_mid_epoch_finishes_with_exact_results(tmp_path, repeats):
    ember.init(num_cpus=2)
    _train_under_kills(tmp_path, repeats, seed=4)


# -- the same on the Dask backend ---------------------------------------------------------
# A killed `dask worker` (no nanny) stays dead, so the cluster starts with one spare worker
# per kill: the run loses processes, never the capacity it needs. The scheduler notices a
# lost worker a moment after it died and may place a restarted actor there meanwhile, so
# a kill can cost a second failure (the restart's start); the budget allows for it.
def test_tuner_on_dask_trials_killed_at_random_still_end_with_exact_results(tmp_path, repeats):
    pytest.importorskip("distributed")
    from tests_support.dask_cluster import dask_cluster

    with dask_cluster(workers=2 + 2 * repeats) as (address, _):
        ember.init(address=address)
        try:
            _tune_under_kills(tmp_path, repeats, seed=16, failures_per_kill=2)
        finally:
            ember.shutdown()


def test_torch_trainer_on_dask_rank_killed_mid_epoch_finishes_with_exact_results(tmp_path,
                                                                                 repeats):
    pytest.importorskip("distributed")
    from tests_support.dask_cluster import dask_cluster

    with dask_cluster(workers=2 + 3 * repeats) as (address, _):
        ember.init(address=address)
        try:
            _train_under_kills(tmp_path, repeats, seed=4, failures_per_kill=2)
        finally:
            ember.shutdown()
