"""Setting a worker up the way torchrun would: environment, device, process group.

The choices (backend, device, environment) are pure functions so the GPU path is tested
on machines without one; only ``init_process_group`` touches torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

DEFAULT_TIMEOUT_S = float(os.environ.get("EMBER_TRAIN_TIMEOUT_S", "1800"))
"""Collectives give up after this long: the driver tears a failed group down well
before, this only bounds a hang nobody noticed."""


@dataclass(frozen=True)
class Rendezvous:
    """Where rank 0 listens, and each worker's place (what torchrun puts in the env)."""

    master_addr: str
    master_port: int
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int


def backend_for(use_gpu: bool) -> str:
    return "nccl" if use_gpu else "gloo"


def device_for(use_gpu: bool, local_rank: int, visible_gpus: int) -> str:
    """The torch device a worker trains on.

    A worker holding one GPU sees only it (the core sets CUDA_VISIBLE_DEVICES), so it
    is ``cuda:0``; when all of a node's GPUs are visible, local rank i uses GPU i.
    """
    if not use_gpu:
        return "cpu"
    if visible_gpus <= 0:
        raise RuntimeError("ScalingConfig(use_gpu=True) but this worker sees no GPU; check "
                           "that the machine has GPUs and torch was built with CUDA")
    return f"cuda:{local_rank if visible_gpus > local_rank and visible_gpus > 1 else 0}"


def torchrun_env(rendezvous: Rendezvous, num_cpus: float) -> dict[str, str]:
    """The environment torchrun sets, plus one OpenMP thread per CPU the worker holds
    (more threads than CPUs make torch spin and slow down many times over)."""
    threads = max(1, int(num_cpus))
    return {
        "MASTER_ADDR": rendezvous.master_addr,
        "MASTER_PORT": str(rendezvous.master_port),
        "RANK": str(rendezvous.rank),
        "WORLD_SIZE": str(rendezvous.world_size),
        "LOCAL_RANK": str(rendezvous.local_rank),
        "LOCAL_WORLD_SIZE": str(rendezvous.local_world_size),
        "GROUP_RANK": str(rendezvous.node_rank),
        "NODE_RANK": str(rendezvous.node_rank),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }


def init_process_group(rendezvous: Rendezvous, use_gpu: bool, num_cpus: float, store: Any,
                       timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Join the run's process group over ``store`` (every rank calls this at the same
    time); a single worker gets one too, so user code calling ``torch.distributed`` works
    unchanged."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(max(1, int(num_cpus)))
    if use_gpu:
        torch.cuda.set_device(device_for(True, rendezvous.local_rank, torch.cuda.device_count()))
    dist.init_process_group(
        backend=backend_for(use_gpu), store=store,
        rank=rendezvous.rank, world_size=rendezvous.world_size,
        timeout=timedelta(seconds=timeout_s))


def leave_process_group() -> None:
    """Destroy this process's default process group, if any (best effort: the peers may
    be gone already)."""
    import torch.distributed as dist

    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # noqa: BLE001,S110 - a peer died mid-teardown: the group is unusable either way
        pass
