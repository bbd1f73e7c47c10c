"""Settings and bad input: each mistake fails at the call that made it, naming the fix."""

from __future__ import annotations

import pytest
from tests_support import wait_for

import ember
from ember import train


@pytest.mark.parametrize("make, message", [
    (lambda: train.ScalingConfig(num_workers=0), "num_workers"),
    (lambda: train.ScalingConfig(num_workers=1.5), "num_workers"),
    (lambda: train.ScalingConfig(use_gpu="yes"), "use_gpu"),
    (lambda: train.ScalingConfig(placement_strategy="TIGHT"), "placement_strategy"),
    (lambda: train.ScalingConfig(resources_per_worker={"CPU": -1}), "resources_per_worker"),
    (lambda: train.CheckpointConfig(num_to_keep=0), "num_to_keep"),
    (lambda: train.CheckpointConfig(checkpoint_score_order="up"), "checkpoint_score_order"),
    (lambda: train.FailureConfig(max_failures=-2), "max_failures"),
    (lambda: train.RunConfig(name="a/b"), "name"),
    (lambda: train.RunConfig(failure_config=3), "failure_config"),
    (lambda: train.TorchTrainer("not a function"), "train_loop_per_worker"),
    (lambda: train.TorchTrainer(print, train_loop_config=[1]), "train_loop_config"),
    (lambda: train.TorchTrainer(print, scaling_config={"num_workers": 2}), "scaling_config"),
    (lambda: train.TorchTrainer(print, datasets={"train": [1, 2]}), "datasets"),
    (lambda: train.TorchTrainer(print, resume_from_checkpoint="/tmp"), "resume_from_checkpoint"),
    (lambda: train.Checkpoint.from_directory("/no/such/folder"), "no such directory"),
    (lambda: train.ScalingConfig(num_worker=2), "'num_worker' (did you mean 'num_workers'?)"),
    (lambda: train.ScalingConfig(placement_strategy="spread"), "(did you mean 'SPREAD'?)"),
    (lambda: train.RunConfig(storage="."), "(did you mean 'storage_path'?)"),
    (lambda: train.FailureConfig(max_failure=1), "(did you mean 'max_failures'?)"),
])
def test_bad_settings_name_the_argument(make, message):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert message in str(info.value)


def test_worker_resources_default_to_one_cpu_and_a_gpu_with_use_gpu():
    assert train.ScalingConfig(num_workers=2).worker_resources() == {"CPU": 1.0}
    assert train.ScalingConfig(use_gpu=True).worker_resources() == {"CPU": 1.0, "GPU": 1.0}
    config = train.ScalingConfig(resources_per_worker={"cpu": 2, "memory_hog": 1})
    assert config.worker_resources() == {"CPU": 2.0, "memory_hog": 1.0}
    assert config.num_cpus_per_worker == 2.0


@pytest.mark.parametrize("call", [
    lambda: train.report({"loss": 1.0}),
    lambda: train.get_context(),
    lambda: train.get_dataset_shard("train"),
])
def test_loop_functions_outside_a_run_say_where_they_belong(call):
    with pytest.raises(RuntimeError, match="TorchTrainer.fit"):
        call()
    assert train.get_checkpoint() is None


def test_more_workers_than_the_cluster_has_fails_at_once(tmp_path):
    trainer = train.TorchTrainer(lambda: None, scaling_config=train.ScalingConfig(num_workers=3),
                                 run_config=train.RunConfig(storage_path=str(tmp_path)))
    with pytest.raises(ember.exceptions.InfeasibleResourcesError):
        trainer.fit()
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)
