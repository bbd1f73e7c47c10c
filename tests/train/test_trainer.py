"""TorchTrainer end to end: real worker processes, a real gloo process group, real files."""

from __future__ import annotations

import os
import tempfile

import pytest
from tests_support import wait_for

import ember
from ember import data, train

torch = pytest.importorskip("torch")


def _run_config(tmp_path, **kwargs):
    return train.RunConfig(storage_path=str(tmp_path), verbose=0, **kwargs)


def _save(step):
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "step"), "w") as out:
        out.write(str(step))
    return train.Checkpoint.from_directory(folder)


def _load(checkpoint):
    with checkpoint.as_directory() as folder, open(os.path.join(folder, "step")) as source:
        return int(source.read())


def test_workers_get_torchrun_env_a_process_group_and_rank0_metrics(tmp_path):
    def loop(config):
        import torch.distributed as dist

        ctx = train.get_context()
        total = torch.tensor([float(ctx.get_world_rank() + 1)])
        dist.all_reduce(total)
        env = {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
        for step in range(config["steps"]):
            train.report({"step": step, "sum": total.item(), "rank": ctx.get_world_rank(),
                          "world": ctx.get_world_size(), "local": ctx.get_local_rank(),
                          "env_rank": env["RANK"], "env_world": env["WORLD_SIZE"],
                          "backend": dist.get_backend(), "threads": torch.get_num_threads()},
                         checkpoint=_save(step) if ctx.get_world_rank() == 0 else None)

    result = train.TorchTrainer(
        loop, train_loop_config={"steps": 3}, scaling_config=train.ScalingConfig(num_workers=2),
        run_config=_run_config(tmp_path, name="basic")).fit()
    assert result.error is None
    assert result.metrics == {"step": 2, "sum": 3.0, "rank": 0, "world": 2, "local": 0,
                              "env_rank": "0", "env_world": "2", "backend": "gloo", "threads": 1}
    assert list(result.metrics_dataframe["step"]) == [0, 1, 2]
    assert result.path == str(tmp_path / "basic")
    assert _load(result.checkpoint) == 2
    assert sorted(os.listdir(tmp_path / "basic")) == [f"checkpoint_00000{i}" for i in range(3)]
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def test_ddp_model_and_sampler_keep_workers_in_step(tmp_path):
    def loop():
        from torch.utils.data import DataLoader, TensorDataset

        torch.manual_seed(train.get_context().get_world_rank())  # different initial weights
        model = train.prepare_model(torch.nn.Linear(4, 1))
        assert isinstance(model, torch.nn.parallel.DistributedDataParallel)
        dataset = TensorDataset(torch.arange(32.0).reshape(8, 4), torch.ones(8, 1))
        loader = train.prepare_data_loader(DataLoader(dataset, batch_size=2, shuffle=True))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        seen = []
        for _ in range(2):
            for x, y in loader:
                seen += x[:, 0].tolist()
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.zeros_like(weights) for _ in range(2)]
        torch.distributed.all_gather(gathered, weights)
        train.report({"same_weights": bool(torch.equal(gathered[0], gathered[1])),
                      "batches": len(loader), "seen": sorted(seen)})

    result = train.TorchTrainer(loop, scaling_config=train.ScalingConfig(num_workers=2),
                                run_config=_run_config(tmp_path)).fit()
    assert result.metrics["same_weights"] is True
    assert result.metrics["batches"] == 2  # 8 samples / 2 workers / batch 2
    assert len(result.metrics["seen"]) == 8  # 2 epochs x 4 samples: rank 0's half


def test_dataset_shards_are_disjoint_and_reread_each_epoch(tmp_path):
    def loop():
        shard = train.get_dataset_shard("train")
        epochs = [sorted(int(i) for batch in shard.iter_batches(batch_size=7)
                         for i in batch["id"]) for _ in range(2)]
        mine = torch.tensor(epochs[0] + [-1] * (50 - len(epochs[0])))
        everyone = [torch.zeros_like(mine) for _ in range(2)]
        torch.distributed.all_gather(everyone, mine)
        train.report({"epochs_equal": epochs[0] == epochs[1], "rows": len(epochs[0]),
                      "all": sorted(int(i) for t in everyone for i in t if i >= 0)})

    ds = data.range(100, override_num_blocks=5).map_batches(lambda b: {"id": b["id"]})
    result = train.TorchTrainer(loop, datasets={"train": ds},
                                scaling_config=train.ScalingConfig(num_workers=2),
                                run_config=_run_config(tmp_path)).fit()
    assert result.metrics["epochs_equal"] and result.metrics["rows"] == 50
    assert result.metrics["all"] == list(range(100))


def test_unknown_dataset_shard_names_the_known_ones(tmp_path):
    def loop():
        train.get_dataset_shard("validation")

    trainer = train.TorchTrainer(loop, datasets={"train": data.range(4)},
                                 run_config=_run_config(tmp_path))
    with pytest.raises(train.TrainingFailedError, match=r"no such dataset.*\['train'\]"):
        trainer.fit()


def test_resume_from_checkpoint_is_the_loops_get_checkpoint(tmp_path):
    def loop():
        checkpoint = train.get_checkpoint()
        train.report({"resumed_from": _load(checkpoint) if checkpoint else None})

    result = train.TorchTrainer(loop, resume_from_checkpoint=_save(41),
                                run_config=_run_config(tmp_path)).fit()
    assert result.metrics == {"resumed_from": 41}


def test_single_worker_model_is_not_wrapped_and_storage_takes_a_uri(tmp_path):
    def loop():
        model = train.prepare_model(torch.nn.Linear(2, 2))
        train.report({"wrapped": type(model).__name__, "device": str(train.get_device())},
                     checkpoint=_save(0))

    result = train.TorchTrainer(loop, run_config=train.RunConfig(
        name="uri", storage_path=f"file://{tmp_path}", verbose=0)).fit()
    assert result.metrics == {"wrapped": "Linear", "device": "cpu"}
    assert (tmp_path / "uri" / "checkpoint_000000" / "step").read_text() == "0"


def test_progress_table_prints_a_row_per_report(tmp_path, capsys):
    def loop():
        for epoch in range(2):
            train.report({"epoch": epoch, "loss": 1.0 / (epoch + 1)})

    train.TorchTrainer(loop, run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["report", "time", "epoch", "loss"]
    assert lines[-1].split()[0] == "2" and lines[-1].split()[-1] == "0.5"
