from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_tune_digits_smoke_runs_trials_and_scores_the_best(tmp_path):
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "tune_digits.py"), "--smoke",
         "--storage", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 trials, epochs run per trial: [2, 2]" in completed.stdout
    found = re.search(r"test accuracy ([0-9.]+)", completed.stdout)
    assert found and float(found.group(1)) > 0.5, completed.stdout
    assert "Warning" not in completed.stderr, completed.stderr
    assert (tmp_path / "tune_digits" / "experiment_state.jsonl").exists()
