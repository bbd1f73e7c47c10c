from __future__ import annotations

import os
import re
import subprocess
import sys

from tests_support.ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_serve_model_example_runs():
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "serve_model.py"), str(free_port())],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert sum(" -> label " in line for line in lines) == 3
    summary = re.search(r"answered 24 requests; largest batch (\d+); status RUNNING", lines[-1])
    assert summary, lines[-1]
    assert int(summary.group(1)) >= 1
