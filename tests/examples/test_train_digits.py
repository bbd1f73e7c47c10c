from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_train_digits_reaches_95_percent_test_accuracy(tmp_path):
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "train_digits.py"),
         "--storage", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = re.search(r"test accuracy ([0-9.]+)", completed.stdout)
    assert found, completed.stdout
    assert float(found.group(1)) >= 0.95, completed.stdout
    assert len(os.listdir(tmp_path / "digits")) <= 3  # num_to_keep=2, plus the latest
