from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_data_pipeline_example_runs():
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "data_pipeline.py")],
        capture_output=True, text=True, timeout=180, check=False, cwd=REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    stores = [line.split(":")[0].strip() for line in lines if "sales, revenue" in line]
    assert stores == ["east", "north", "south", "west"]
    assert lines[-1].startswith("wrote") and lines[-1].endswith("rows")
