"""Examples that call plain ``ember.init()`` run unchanged on a Dask cluster through
``EMBER_ADDRESS``, twice in a row on the same cluster (what the first run leaves behind,
such as named actors, must not break the second)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests_support.dask_cluster import dask_cluster
from tests_support.ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(address: str, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", f"{name}.py"), *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
        env={**os.environ, "EMBER_ADDRESS": address})


@pytest.mark.slow
@pytest.mark.cluster
def test_tune_digits_and_rl_cartpole_run_twice_on_one_dask_cluster(tmp_path):
    with dask_cluster(workers=3, resources="CPU=1") as (address, _):
        for attempt in range(2):
            tuned = _run(address, "tune_digits", "--smoke", "--storage",
                         str(tmp_path / f"tune{attempt}"))
            assert tuned.returncode == 0, tuned.stdout + tuned.stderr[-3000:]
            assert "2 trials, epochs run per trial: [2, 2]" in tuned.stdout, tuned.stdout
            played = _run(address, "rl_cartpole", "--smoke", "--port", str(free_port()))
            assert played.returncode == 0, played.stdout + played.stderr[-3000:]
