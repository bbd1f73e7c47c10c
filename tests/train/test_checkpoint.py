"""Checkpoints: directories copied through pyarrow.fs; the run's folder keeps the best."""

from __future__ import annotations

import os
import pickle

import pytest
from ember.train._storage import CheckpointManager, RunStorage

from ember import train


def _folder(tmp_path, name, text):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "weights.txt").write_text(text)
    return folder


def test_from_directory_round_trips_through_to_and_as_directory(tmp_path):
    checkpoint = train.Checkpoint.from_directory(_folder(tmp_path, "c", "w1"))
    copy = checkpoint.to_directory(tmp_path / "copy")
    assert (tmp_path / "copy" / "weights.txt").read_text() == "w1" and copy.endswith("copy")
    with checkpoint.as_directory() as folder:
        assert (tmp_path / "c" / "weights.txt").samefile(os.path.join(folder, "weights.txt"))
    assert pickle.loads(pickle.dumps(checkpoint)) == checkpoint


def test_storage_uri_is_opened_with_pyarrow_fs(tmp_path):
    storage = RunStorage.open(f"file://{tmp_path}/store", "run")
    persisted = storage.persist(train.Checkpoint.from_directory(_folder(tmp_path, "c", "w")), 7)
    assert persisted.path == f"{tmp_path}/store/run/checkpoint_000007"
    assert (tmp_path / "store" / "run" / "checkpoint_000007" / "weights.txt").read_text() == "w"
    assert not (tmp_path / "store" / "run" / "checkpoint_000007.partial").exists()


def test_bad_storage_uri_names_the_fix():
    with pytest.raises(ValueError, match="pyarrow.fs"):
        RunStorage.open("nosuchscheme://bucket/x", "run")


def _manager(tmp_path, **config):
    storage = RunStorage.open(str(tmp_path / "store"), "run")
    return storage, CheckpointManager(train.CheckpointConfig(**config), storage)


def _report(tmp_path, storage, manager, index, **metrics):
    source = train.Checkpoint.from_directory(_folder(tmp_path, f"src{index}", str(index)))
    manager.register(storage.persist(source, index), metrics, index)


def test_num_to_keep_by_score_keeps_the_best_and_the_latest(tmp_path):
    storage, manager = _manager(tmp_path, num_to_keep=2, checkpoint_score_attribute="loss",
                                checkpoint_score_order="min")
    for index, loss in enumerate([0.5, 0.1, 0.9, 0.3, 0.8]):
        _report(tmp_path, storage, manager, index, loss=loss)
    kept = sorted(os.listdir(tmp_path / "store" / "run"))
    assert kept == ["checkpoint_000001", "checkpoint_000003", "checkpoint_000004"]
    assert [m["loss"] for _, m in manager.best_checkpoints()] == [0.1, 0.3, 0.8]
    assert manager.latest.path.endswith("checkpoint_000004")


def test_num_to_keep_without_score_keeps_the_newest(tmp_path):
    storage, manager = _manager(tmp_path, num_to_keep=1)
    for index in range(3):
        _report(tmp_path, storage, manager, index, step=index)
    assert os.listdir(tmp_path / "store" / "run") == ["checkpoint_000002"]
    assert [m["step"] for _, m in manager.best_checkpoints()] == [2]


def test_missing_score_ranks_last(tmp_path):
    storage, manager = _manager(tmp_path, checkpoint_score_attribute="acc")
    _report(tmp_path, storage, manager, 0, other=1)
    _report(tmp_path, storage, manager, 1, acc=0.5)
    _report(tmp_path, storage, manager, 2, acc=0.7)
    assert [m.get("acc") for _, m in manager.best_checkpoints()] == [0.7, 0.5, None]
