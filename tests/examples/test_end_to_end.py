"""The README's main job, in its seconds-long --smoke form: embedded, and on a real Dask
cluster (``cluster`` marker)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from tests_support.dask_cluster import dask_cluster
from tests_support.ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def _run(*extra: str) -> str:
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "end_to_end.py"), "--smoke",
         "--port", str(free_port()), *extra],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _check(output: str) -> None:
    assert "data: 1221 training digits" in output
    assert re.search(r"tune: 2 trials; best lr=\S+ hidden=\d+", output)
    assert "serve: best checkpoint deployed at http://127.0.0.1:" in output
    accuracy = float(re.search(r"over HTTP: ([0-9.]+)", output).group(1))
    assert accuracy > 0.5, output  # 2 epochs: far from the full run's ~97%, far above chance


@pytest.mark.slow
def test_end_to_end_smoke_on_the_embedded_engine():
    _check(_run())


@pytest.mark.slow
@pytest.mark.cluster
def test_end_to_end_smoke_twice_on_one_dask_cluster():
    """The second run finds what the first left on the cluster (named actors, torch
    process groups in the worker processes): every trial still finishes."""
    with dask_cluster(workers=3, resources="CPU=1") as (address, _):
        for _ in range(2):
            output = _run("--address", address)
            _check(output)
            assert "ERROR" not in output, output
