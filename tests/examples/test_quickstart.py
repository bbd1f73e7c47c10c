"""examples/quickstart.py runs as a user runs it and prints what its comments promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "quickstart.py"


def test_quickstart_runs_and_prints_each_step() -> None:
    completed = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True,
                               text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    for expected in [
        "squares: [0, 1, 4, 9, 16]",
        "3*3 + 4*4 = 25",
        "column sums: [1000.0, 1000.0, 1000.0]",
        "min and max: [1, 9]",
        "sum of squares below 10: 285",
        "actor total: 35",
        "streamed: [3, 2, 1]",
        "done",
    ]:
        assert expected in lines, f"missing {expected!r} in:\n{completed.stdout}"
    for prefix in ["the shared array is read-only:", "first to finish:",
                   "caught the task's ValueError: ValueError: invalid literal",
                   "cluster: 2 CPUs"]:
        assert any(line.startswith(prefix) for line in lines), (
            f"no line starts with {prefix!r} in:\n{completed.stdout}")
    assert lines[-1] == "done"
    assert "Exception ignored" not in completed.stderr, completed.stderr
