"""A rank that dies or raises takes the group down (no hung collective); the run restarts
from its latest checkpoint while FailureConfig allows, else fails with the traceback."""

from __future__ import annotations

import os
import re
import signal
import tempfile
import traceback

import pytest
from tests_support import wait_for

import ember
from ember import train

torch = pytest.importorskip("torch")


def _epoch_loop(config):
    """Checkpoints every epoch; ``config["fail"](rank, epoch, attempt_dir)`` may kill or raise."""
    import torch.distributed as dist

    rank = train.get_context().get_world_rank()
    checkpoint = train.get_checkpoint()
    start = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "epoch")) as f:
            start = int(f.read()) + 1
    for epoch in range(start, config["epochs"]):
        config["fail"](rank, epoch, config["marks"])
        total = torch.ones(1)
        dist.all_reduce(total)  # the surviving rank blocks here when the other one is gone
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "epoch"), "w") as out:
            out.write(str(epoch))
        train.report({"epoch": epoch, "started_at": start, "world": total.item()},
                     checkpoint=train.Checkpoint.from_directory(folder))


def _once(marks, name):
    """True the first time it is called with this name (across processes and restarts)."""
    try:
        os.close(os.open(os.path.join(marks, name), os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


def _kill_rank1_in_epoch2(rank, epoch, marks):
    if rank == 1 and epoch == 2 and _once(marks, "killed"):
        os.kill(os.getpid(), signal.SIGKILL)


def _rank1_raises_in_epoch1(rank, epoch, marks):
    if rank == 1 and epoch == 1:
        raise ValueError(f"bad batch in epoch {epoch}")


def _rank0_exits_in_epoch1(rank, epoch, marks):
    if rank == 0 and epoch == 1 and _once(marks, "exited"):
        os._exit(3)


def _trainer(tmp_path, fail, max_failures=0, epochs=5):
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    return train.TorchTrainer(
        _epoch_loop, train_loop_config={"epochs": epochs, "fail": fail, "marks": str(marks)},
        scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0,
                                   failure_config=train.FailureConfig(max_failures=max_failures)))


def test_killed_worker_restarts_the_group_from_the_latest_checkpoint(tmp_path):
    result = _trainer(tmp_path, _kill_rank1_in_epoch2, max_failures=1).fit()
    assert result.error is None
    frame = result.metrics_dataframe
    assert list(frame["epoch"]) == [0, 1, 2, 3, 4]  # every epoch once: none lost, none redone
    assert list(frame["started_at"]) == [0, 0, 2, 2, 2]  # the second attempt resumed at 2
    assert result.metrics["world"] == 2.0
    assert result.checkpoint.path.endswith("checkpoint_000004")
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def test_rank0_process_exit_is_a_failure_too(tmp_path):
    result = _trainer(tmp_path, _rank0_exits_in_epoch1, max_failures=1, epochs=3).fit()
    assert list(result.metrics_dataframe["epoch"]) == [0, 1, 2]


def test_loop_error_without_retries_raises_with_rank_traceback_and_checkpoint(tmp_path):
    with pytest.raises(train.TrainingFailedError) as info:
        _trainer(tmp_path, _rank1_raises_in_epoch1).fit()
    error = info.value
    assert error.rank == 1
    assert "bad batch in epoch 1" in str(error) and "ValueError" in str(error)
    assert "_rank1_raises_in_epoch1" in str(error)  # the user's traceback
    assert error.checkpoint_path.endswith("checkpoint_000000")
    assert isinstance(error.__cause__, ValueError)
    # the rank left blocked in all_reduce was torn down:
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


def test_failed_rank_traceback_is_shown_once_naming_the_rank_and_its_pid(tmp_path, capfd):
    with pytest.raises(train.TrainingFailedError) as info:
        _trainer(tmp_path, _rank1_raises_in_epoch1).fit()
    # what Python prints for the error left uncaught, after what the run printed
    shown = "".join(capfd.readouterr()) + "".join(traceback.format_exception(info.value))
    assert shown.count('raise ValueError(f"bad batch in epoch {epoch}")') == 1
    assert shown.count(", in _rank1_raises_in_epoch1") == 1
    pid = re.search(r"rank 1 \(pid (\d+)\) failed:\nTraceback \(most recent call last\):\n"
                    rf'  File "{re.escape(__file__)}", line \d+, in _epoch_loop', shown)
    assert pid is not None, shown
    assert int(pid.group(1)) != os.getpid()
    assert "_worker.py" not in shown  # train's own frames are cut
    assert info.value.rank == 1


def test_failures_beyond_max_failures_return_the_error_and_keep_results(tmp_path):
    result = _trainer(tmp_path, _rank1_raises_in_epoch1, max_failures=1).fit(
        raise_on_failure=False)
    assert isinstance(result.error, train.TrainingFailedError)
    assert "after 2 attempt(s)" in str(result.error)
    assert list(result.metrics_dataframe["epoch"]) == [0]  # the finished epoch is kept
    assert result.checkpoint.path.endswith("checkpoint_000000")
