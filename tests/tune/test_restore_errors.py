"""A bad path or a damaged experiment folder given to Tuner.restore is a ValueError that
names the path and the fix, never a raw UnpicklingError/EOFError/FileNotFoundError; a
last event line cut short by a killed driver is not damage."""

from __future__ import annotations

import pickle
import shutil

import cloudpickle
import pytest

from ember import tune

pytestmark = pytest.mark.usefixtures("session")


def _objective(config):
    tune.report({"score": config["x"] * 2})


@pytest.fixture(scope="module")
def finished(request, tmp_path_factory, session):  # type: ignore[no-untyped-def]
    """One small finished experiment, copied by each test before it damages it."""
    # before the per-test fixture that does it: workers cannot import this module by name
    cloudpickle.register_pickle_by_value(request.module)
    root = tmp_path_factory.mktemp("experiments")
    tune.Tuner(_objective, param_space={"x": tune.grid_search([1, 2])},
               run_config=tune.RunConfig(storage_path=str(root), name="exp", verbose=0)).fit()
    return root / "exp"


@pytest.fixture
def experiment(finished, tmp_path):  # type: ignore[no-untyped-def]
    copy = tmp_path / "exp"
    shutil.copytree(finished, copy)
    return copy


def _truncate(file):
    data = file.read_bytes()
    file.write_bytes(data[:len(data) // 2])


def _garbage(file):
    file.write_bytes(b"this is not a pickle\n")


@pytest.mark.parametrize("damage, words", [
    (_truncate, "is corrupt or truncated"),
    (_garbage, "is corrupt or truncated"),
    (lambda f: f.write_bytes(pickle.dumps([1, 2])), "is not a tuner's state"),
])
def test_a_damaged_tuner_pkl_names_the_file_and_the_fix(experiment, damage, words):
    damage(experiment / "tuner.pkl")
    with pytest.raises(ValueError) as info:
        tune.Tuner.restore(str(experiment))
    message = str(info.value)
    assert str(experiment / "tuner.pkl") in message and words in message
    assert "Tuner(...).fit()" in message


def _empty_folder(experiment):
    folder = experiment.parent / "empty"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("where, words", [
    (lambda e: e.parent / "nowhere", "no such folder"),
    (lambda e: e / "tuner.pkl", "that is a file"),
    (_empty_folder, "no experiment there"),
])
def test_a_path_that_is_not_an_experiment_says_what_to_pass(experiment, where, words):
    path = where(experiment)
    with pytest.raises(ValueError) as info:
        tune.Tuner.restore(str(path))
    assert repr(str(path)) in str(info.value) and words in str(info.value)


def test_a_missing_event_log_is_named(experiment):
    (experiment / "experiment_state.jsonl").unlink()
    with pytest.raises(ValueError, match="no experiment_state.jsonl next to tuner.pkl"):
        tune.Tuner.restore(str(experiment))


def test_a_damaged_event_line_is_named_with_its_number(experiment):
    events = experiment / "experiment_state.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    lines[1] = '{"event": "result", "trial_id": \n'
    events.write_text("".join(lines))
    with pytest.raises(ValueError) as info:
        tune.Tuner.restore(str(experiment))
    assert f"{events} line 2 is not an experiment event" in str(info.value)


def test_a_last_event_line_cut_short_is_where_the_driver_stopped(experiment):
    events = experiment / "experiment_state.jsonl"
    events.write_text(events.read_text() + '{"event": "result", "tri')
    grid = tune.Tuner.restore(str(experiment)).fit()
    assert not grid.errors
    assert sorted(r.metrics["score"] for r in grid) == [2, 4]


def test_a_damaged_searcher_state_names_the_file_and_the_fix(experiment):
    searcher = experiment / "searcher.pkl"
    assert searcher.exists()
    _truncate(searcher)
    with pytest.raises(ValueError) as info:
        tune.Tuner.restore(str(experiment)).fit()
    assert str(searcher) in str(info.value) and "delete that file" in str(info.value)
