"""The torchrun-like choices, pure, so the GPU configuration is tested without a GPU."""

from __future__ import annotations

import pytest
from ember.train import _torch_setup as setup
from ember.train._worker_group import rank_by_host


def test_backend_is_gloo_on_cpu_and_nccl_on_gpu():
    assert setup.backend_for(False) == "gloo"
    assert setup.backend_for(True) == "nccl"


@pytest.mark.parametrize("use_gpu, local_rank, visible, device", [
    (False, 0, 0, "cpu"),
    (False, 3, 8, "cpu"),
    (True, 0, 1, "cuda:0"),   # the core gave this worker one GPU: it sees only that one
    (True, 3, 1, "cuda:0"),
    (True, 3, 4, "cuda:3"),   # all of the node's GPUs visible: local rank picks one
])
def test_device_for(use_gpu, local_rank, visible, device):
    assert setup.device_for(use_gpu, local_rank, visible) == device


def test_device_for_gpu_without_gpus_says_so():
    with pytest.raises(RuntimeError, match="sees no GPU"):
        setup.device_for(True, 0, 0)


def test_torchrun_env_matches_torchrun_and_pins_threads_to_cpus():
    rdv = setup.Rendezvous("10.0.0.1", 29500, rank=3, world_size=4, local_rank=1,
                           local_world_size=2, node_rank=1)
    env = setup.torchrun_env(rdv, num_cpus=2)
    assert env["MASTER_ADDR"] == "10.0.0.1" and env["MASTER_PORT"] == "29500"
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("3", "4", "1")
    assert (env["LOCAL_WORLD_SIZE"], env["GROUP_RANK"]) == ("2", "1")
    assert env["OMP_NUM_THREADS"] == "2"
    assert setup.torchrun_env(rdv, num_cpus=0.5)["OMP_NUM_THREADS"] == "1"


def test_ranks_by_host_keep_world_rank_and_number_hosts_in_order():
    assert rank_by_host(["a", "b", "a", "b"]) == [(0, 2, 0), (0, 2, 1), (1, 2, 0), (1, 2, 1)]
    assert rank_by_host(["x"]) == [(0, 1, 0)]
