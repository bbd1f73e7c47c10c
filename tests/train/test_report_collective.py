"""``train.report`` is a collective, as in Ray: it returns on no rank until every rank
has made it, so a rank that dies stops the others at their next report and the restart
resumes from the last checkpoint every rank reached."""

from __future__ import annotations

import os
import signal
import tempfile

import pytest
from tests_support import wait_for

import ember
from ember import train

torch = pytest.importorskip("torch")


def _once(marks, name):
    """True the first time it is called with this name (across processes and restarts)."""
    try:
        os.close(os.open(os.path.join(marks, name), os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


def _racing_loop(config):
    """No collective of its own: without a collective report rank 0 would run ahead.
    Rank 1 dies in epoch 2, once rank 0 has called report for epoch 2."""
    marks = config["marks"]
    rank = train.get_context().get_world_rank()
    start = 0
    checkpoint = train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "epoch")) as f:
            start = int(f.read()) + 1
    for epoch in range(start, config["epochs"]):
        if rank == 1 and epoch == 2 and _once(marks, "killed"):
            assert wait_for(lambda: os.path.exists(os.path.join(marks, "rank0_calls_2")), 60)
            os.kill(os.getpid(), signal.SIGKILL)
        if rank == 0:
            open(os.path.join(marks, f"rank0_calls_{epoch}"), "w").close()
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "epoch"), "w") as out:
            out.write(str(epoch))
        train.report({"epoch": epoch, "started_at": start},
                     checkpoint=train.Checkpoint.from_directory(folder))
        with open(os.path.join(marks, f"returned_rank{rank}"), "a") as log:
            log.write(f"{start} {epoch}\n")


def test_dead_rank_stops_the_others_and_the_restart_resumes_where_all_ranks_were(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    trainer = train.TorchTrainer(
        _racing_loop, train_loop_config={"epochs": 5, "marks": str(marks)},
        scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0,
                                   failure_config=train.FailureConfig(max_failures=1)))
    result = trainer.fit()
    assert result.error is None
    frame = result.metrics_dataframe
    assert list(frame["epoch"]) == [0, 1, 2, 3, 4]  # every epoch's metrics exactly once
    assert list(frame["started_at"]) == [0, 0, 2, 2, 2]  # resumed from epoch 1's checkpoint
    returned = (marks / "returned_rank0").read_text().split("\n")
    first_attempt = [line.split()[1] for line in returned if line.startswith("0 ")]
    assert first_attempt == ["0", "1"]  # rank 0 never got past the report rank 1 missed
    names = sorted(os.listdir(tmp_path / "run"))
    assert names == [f"checkpoint_00000{i}" for i in range(5)]  # no half-made one left
    assert result.checkpoint.path.endswith("checkpoint_000004")
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def _rank1_skips_reports(config):
    if train.get_context().get_world_rank() == 0:
        for step in range(3):
            train.report({"step": step})


def test_a_rank_that_returns_without_reporting_is_an_error_naming_it(tmp_path):
    trainer = train.TorchTrainer(
        _rank1_skips_reports, scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0))
    with pytest.raises(train.TrainingFailedError) as info:
        trainer.fit()
    message = str(info.value)
    assert "rank(s) [1] returned from the training loop after 0 report(s)" in message
    assert "rank(s) [0] called ember.train.report() #1" in message
    assert "the same number of times" in message
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def _report_then_read_checkpoint(config):
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "epoch"), "w") as out:
        out.write("0")
    train.report({"rank": train.get_context().get_world_rank()},
                 checkpoint=train.Checkpoint.from_directory(folder))
    seen = train.get_checkpoint()
    train.report({"seen": seen.path if seen is not None else None})


def test_every_rank_sees_the_committed_checkpoint_after_report(tmp_path):
    trainer = train.TorchTrainer(
        _report_then_read_checkpoint, scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0))
    result = trainer.fit()
    assert result.metrics_dataframe["rank"].iloc[0] == 0  # rank 0's metrics are kept
    assert result.metrics["seen"] == str(tmp_path / "run" / "checkpoint_000000")
