from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_rl_cartpole_example_trains_saves_and_acts_from_the_checkpoint():
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "rl_cartpole.py"), "--smoke"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("iteration")] == ["1", "2", "3"]
    assert any(line.startswith("checkpoint: ") for line in lines)
    assert "greedy mean return of the restored algorithm" in completed.stdout
    assert lines[-1].split(": ")[-1] in ("0", "1")
