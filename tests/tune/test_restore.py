"""A killed driver loses nothing finished: Tuner.restore re-runs no finished trial and
resumes the unfinished ones from their checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from tests_support import wait_for

from ember import tune

pytestmark = pytest.mark.usefixtures("session")

SCRIPT = textwrap.dedent('''
    import os, sys, tempfile, time
    import ember
    from ember import tune

    def slow(config):
        open(os.path.join(config["marks"], f"start_{config['x']}_{os.getpid()}"), "w").close()
        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                start = int(open(os.path.join(folder, "i")).read()) + 1
        for i in range(start, 4):
            time.sleep(config["pause"])
            folder = tempfile.mkdtemp()
            with open(os.path.join(folder, "i"), "w") as out:
                out.write(str(i))
            tune.report({"i": i, "started": start}, checkpoint=tune.Checkpoint.from_directory(folder))

    if __name__ == "__main__":
        ember.init(num_cpus=2)
        tune.Tuner(slow, param_space={"x": tune.grid_search([0, 1, 2]), "marks": sys.argv[2],
                                      "pause": 0.4},
                   tune_config=tune.TuneConfig(max_concurrent_trials=1),
                   run_config=tune.RunConfig(storage_path=sys.argv[1], name="exp", verbose=0)).fit()
''')


def _events(path):
    try:
        with open(path) as source:
            return [json.loads(line) for line in source if line.endswith("\n")]
    except FileNotFoundError:
        return []


def test_restore_after_the_driver_was_killed(tmp_path):
    script = tmp_path / "experiment.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "marks"
    marks.mkdir()
    driver = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(marks)],
                              start_new_session=True)
    state = tmp_path / "exp" / "experiment_state.jsonl"

    def one_done_one_started():
        events = _events(state)
        done = [e for e in events if e["event"] == "status" and e["status"] == "TERMINATED"]
        second = [e for e in events if e["event"] == "result" and e["trial_id"] == "00001"]
        return done and second

    try:
        assert wait_for(one_done_one_started, timeout=60)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()

    grid = tune.Tuner.restore(str(tmp_path / "exp")).fit()  # the trainable comes from disk
    by_x = {r.config["x"]: r for r in grid}
    assert sorted(by_x) == [0, 1, 2] and not grid.errors
    assert all(r.metrics["i"] == 3 for r in grid)
    starts = sorted(name.split("_")[1] for name in os.listdir(marks))
    assert starts.count("0") == 1  # the finished trial did not run again
    assert starts.count("1") == 2 and by_x[1].metrics["started"] > 0  # resumed, not restarted


def test_restoring_a_finished_optuna_experiment_runs_nothing_again(tmp_path):
    pytest.importorskip("optuna")
    marks = tmp_path / "marks"
    marks.mkdir()

    def once(config):
        (marks / f"{config['x']:.6f}").touch()
        tune.report({"loss": config["x"]})

    tune.Tuner(once, param_space={"x": tune.uniform(0, 1)},
               tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=3,
                                           search_alg=tune.OptunaSearch(seed=0)),
               run_config=tune.RunConfig(storage_path=str(tmp_path), name="opt", verbose=0)).fit()
    grid = tune.Tuner.restore(str(tmp_path / "opt"), trainable=once).fit()
    assert len(grid) == 3 and len(os.listdir(marks)) == 3
    assert grid.get_best_result().metrics["loss"] == min(r.metrics["loss"] for r in grid)
