"""Data-parallel training throughput: Ember's TorchTrainer against plain torch.distributed.

    python benchmarks/train.py                     # single process, plain DDP, ember
    python benchmarks/train.py --compare ray       # + Ray's TorchTrainer (benchmarks/.venv-ray)
    python benchmarks/train.py --engine ray        # one variant only, in this process

Each variant runs in a fresh child process (``--engine``), ``--repeats`` times in turn
(single, ddp, ember, single, ...), and the median of each figure is printed: start-up
costs (importing torch, torch._dynamo on the first DDP wrap) are paid anew each run,
as they are for a user.

The workload (issue #6): an MLP 784 -> 512 -> 512 -> 10 on 60,000 synthetic samples,
batch 128 per worker, 2 epochs, SGD; 2 workers with one torch thread each. Every variant
runs the same ``train_epochs`` function, so the figures differ only by what runs it:

    <engine>_loop_samples_per_s   samples / (last step end - first step start), rank 0
    <engine>_e2e_samples_per_s    samples / (fit() or spawn() return - start)
    <engine>_first_step_s         start -> first training step (processes, torch import,
                                  process group, model, data)

Targets: ember >= 95% of plain DDP in the loop, >= 80% end to end, first step within
1.5x of plain DDP's (``ember_*_vs_ddp`` ratios, all >= target when met).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _compare import (
    RAY_ENV,
    RAY_VERSION,
    Figure,
    emit,
    ensure_ray_venv,
    format_table,
    run_child,
)

SAMPLES = 60_000
EPOCHS = 2
BATCH = 128
WORKERS = 2
RAY_TRAIN_PACKAGES = (f"ray[train]=={RAY_VERSION}", "torch==2.13.0", "pandas", "pyarrow")


def train_epochs(rank: int, world: int, wrap: Callable[[Any], Any]) -> dict[str, float]:
    """The measured loop: this rank's share of the samples, ``EPOCHS`` passes."""
    import torch

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(SAMPLES, 784, generator=generator)
    labels = torch.randint(0, 10, (SAMPLES,), generator=generator)
    mine_x, mine_y = features[rank::world], labels[rank::world]
    torch.manual_seed(0)
    model = wrap(torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    first_step, samples = None, 0
    for _ in range(EPOCHS):
        for start in range(0, len(mine_x), BATCH):
            if first_step is None:
                first_step = time.time()
            x, y = mine_x[start:start + BATCH], mine_y[start:start + BATCH]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            samples += len(x)
    return {"first_step": first_step or time.time(), "loop_end": time.time(),
            "samples": float(samples * world)}


def figures(engine: str, started: float, ended: float, rank0: dict[str, float]) -> list[Figure]:
    samples = rank0["samples"]
    return [
        emit(f"{engine}_loop_samples_per_s", samples / (rank0["loop_end"] - rank0["first_step"]),
             "per_s"),
        emit(f"{engine}_e2e_samples_per_s", samples / (ended - started), "per_s"),
        emit(f"{engine}_first_step_s", rank0["first_step"] - started, "s"),
    ]


# -- the variants ----------------------------------------------------------------------------
def run_single() -> list[Figure]:
    started = time.time()
    rank0 = train_epochs(0, 1, lambda model: model)
    return figures("single", started, time.time(), rank0)


def _ddp_rank(rank: int, port: int, out: str) -> None:
    import json

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORKERS)
    result = train_epochs(rank, WORKERS, DistributedDataParallel)
    dist.destroy_process_group()
    if rank == 0:
        Path(out).write_text(json.dumps(result))


def run_ddp() -> list[Figure]:
    """Plain torch: spawn 2 fresh processes, each joins a gloo group (what torchrun does)."""
    import json
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "rank0.json")
        started = time.time()
        mp.spawn(_ddp_rank, args=(port, out), nprocs=WORKERS, join=True)
        ended = time.time()
        rank0 = json.loads(Path(out).read_text())
    return figures("ddp", started, ended, rank0)


def _ember_loop() -> None:
    from ember import train

    context = train.get_context()
    train.report(train_epochs(context.get_world_rank(), context.get_world_size(),
                              train.prepare_model))


def run_ember() -> list[Figure]:
    import ember
    from ember import train

    ember.init(num_cpus=WORKERS)
    with tempfile.TemporaryDirectory() as storage:
        started = time.time()
        result = train.TorchTrainer(
            _ember_loop, scaling_config=train.ScalingConfig(num_workers=WORKERS),
            run_config=train.RunConfig(storage_path=storage, verbose=0)).fit()
        ended = time.time()
    ember.shutdown()
    return figures("ember", started, ended, result.metrics)


def _ray_loop() -> None:
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    figures = train_epochs(context.get_world_rank(), context.get_world_size(),
                           ray.train.torch.prepare_model)
    # Ray Train 2.x keeps metrics only of reports that carry a checkpoint: give it one.
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report(figures, checkpoint=checkpoint if context.get_world_rank() == 0 else None)


def run_ray() -> list[Figure]:
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    init_started = time.time()
    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    emit("ray_init_s", time.time() - init_started, "s")
    with tempfile.TemporaryDirectory() as storage:
        started = time.time()
        result = TorchTrainer(_ray_loop, scaling_config=ScalingConfig(num_workers=WORKERS),
                              run_config=RunConfig(storage_path=storage)).fit()
        ended = time.time()
    ray.shutdown()
    return figures("ray", started, ended, result.metrics)


def ratios(ours: dict[str, Figure], plain: dict[str, Figure]) -> None:
    """``ember_*_vs_ddp``: >= 0.95 (loop), >= 0.8 (end to end), >= 1/1.5 (first step)."""
    for kind in ("loop_samples_per_s", "e2e_samples_per_s"):
        emit(f"ember_{kind.split('_')[0]}_vs_ddp",
             ours[f"ember_{kind}"].value / plain[f"ddp_{kind}"].value, "x")
    emit("ember_first_step_vs_ddp",
         plain["ddp_first_step_s"].value / ours["ember_first_step_s"].value, "x")


VARIANTS = {"single": run_single, "ddp": run_ddp, "ember": run_ember, "ray": run_ray}


def medians(runs: list[dict[str, Figure]]) -> dict[str, Figure]:
    names = [name for name in runs[0] if all(name in run for run in runs)]
    return {name: Figure(name, statistics.median(run[name].value for run in runs),
                         runs[0][name].unit) for name in names}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=tuple(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", choices=("ray",))
    args = parser.parse_args(argv)
    if args.engine:
        VARIANTS[args.engine]()
        return
    script = Path(__file__).resolve()
    runs: dict[str, list[dict[str, Figure]]] = {"single": [], "ddp": [], "ember": []}
    for _ in range(args.repeats):
        for variant, found in runs.items():
            found.append(run_child(sys.executable, script, ["--engine", variant], label=variant,
                                   timeout_s=600))
    print("\nmedians:")
    median = {name: fig for found in runs.values() for name, fig in medians(found).items()}
    for figure in median.values():
        emit(figure.name, figure.value, figure.unit)
    ratios(median, median)
    if args.compare:
        python = ensure_ray_venv(RAY_TRAIN_PACKAGES)
        ray = medians([run_child(python, script, ["--engine", "ray"], env=RAY_ENV, label="ray",
                                 timeout_s=900) for _ in range(args.repeats)])
        print()
        mine = {name.replace("ember_", ""): f for name, f in median.items()
                if name.startswith("ember_")}
        theirs = {name.replace("ray_", ""): f for name, f in ray.items() if name.startswith("ray_")}
        print(format_table(mine, theirs), flush=True)


if __name__ == "__main__":
    main()
