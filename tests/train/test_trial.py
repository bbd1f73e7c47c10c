"""The protocol ember.tune uses to run training code as a trial (ember.train.trial)."""

from __future__ import annotations

import os
import tempfile

import pytest
from ember.train.trial import TrialSession, set_trial_session

import ember
from ember import train

torch = pytest.importorskip("torch")


@pytest.fixture
def trial(tmp_path):
    reported = []
    session = TrialSession(
        trial_id="t1", trial_name="trial_1", trial_dir=str(tmp_path / "trial_1"),
        experiment_name="exp", report=lambda metrics, ckpt: reported.append((metrics, ckpt)))
    set_trial_session(session)
    yield session, reported
    set_trial_session(None)


def test_function_trainable_reports_to_its_trial(trial):
    session, reported = trial
    train.report({"score": 1})
    assert reported == [({"score": 1}, None)]
    assert train.get_context().get_trial_dir() == session.trial_dir
    assert train.get_context().get_trial_name() == "trial_1"


def test_trainer_in_a_trial_uses_its_bundles_config_and_checkpoint(trial, tmp_path):
    session, reported = trial
    trainer = train.TorchTrainer(_loop, train_loop_config={"lr": 0.1, "steps": 2},
                                 scaling_config=train.ScalingConfig(num_workers=2))
    group = ember.placement_group(trainer.trial_bundles())
    assert group.wait(30)
    session.placement_group, session.first_bundle = group, 0
    try:
        _run_twice(trainer, session, reported)
    finally:
        ember.remove_placement_group(group)


def _run_twice(trainer, session, reported):
    trainer.run_trial({"train_loop_config": {"lr": 0.5}})
    metrics = [m for m, _ in reported]
    assert metrics == [{"lr": 0.5, "step": 0, "trial_dir": session.trial_dir, "world": 2},
                       {"lr": 0.5, "step": 1, "trial_dir": session.trial_dir, "world": 2}]
    checkpoint = reported[-1][1]
    assert checkpoint.path == os.path.join(session.trial_dir, "checkpoint_000001")

    session.checkpoint, reported[:] = checkpoint, []  # a restored trial resumes from it
    trainer.run_trial({"train_loop_config": {"steps": 3}})
    assert [m["step"] for m, _ in reported] == [2]
    assert reported[-1][1].path.endswith("checkpoint_000002")


def _loop(config):
    checkpoint = train.get_checkpoint()
    start = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "s")) as f:
            start = int(f.read()) + 1
    context = train.get_context()
    for step in range(start, config["steps"]):
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "s"), "w") as out:
            out.write(str(step))
        train.report({"lr": config["lr"], "step": step, "trial_dir": context.get_trial_dir(),
                      "world": context.get_world_size()},
                     checkpoint=train.Checkpoint.from_directory(folder))


def test_trial_sessions_are_per_thread_so_trials_sharing_a_process_stay_apart():
    """On a Dask worker several trial actors share one process, each in its own thread."""
    import threading

    from ember.train.trial import current_trial_session

    seen = {}
    ready = threading.Barrier(2)

    def trial(name):
        set_trial_session(TrialSession(name, name, f"/tmp/{name}", "exp", lambda m, c: None))
        ready.wait()  # both installed before either looks
        seen[name] = current_trial_session().trial_name
        ready.wait()
        set_trial_session(None)

    threads = [threading.Thread(target=trial, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"}
    assert current_trial_session() is None
