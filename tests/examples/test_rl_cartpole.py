from __future__ import annotations

import os
import subprocess
import sys

from tests_support.ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def test_rl_cartpole_example_trains_saves_and_acts_from_the_checkpoint():
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "rl_cartpole.py"), "--smoke",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("iteration")] == ["1", "2", "3"]
    assert any(line.startswith("checkpoint: ") for line in lines)
    assert "greedy mean return of the restored algorithm" in completed.stdout
    served = [line for line in lines if line.startswith("served policy: mean return")]
    assert served and float(served[0].split()[4]) >= 8  # a whole episode, every step over HTTP
