"""Dask: code from a module next to the driver's script runs on workers that do not
have that folder (it travels by value, as the script's own code does)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests_support.dask_cluster import dask_cluster

pytestmark = pytest.mark.cluster

HELPER = '''
class Point:
    def __init__(self, x):
        self.x = x

def double(point):
    return Point(2 * point.x)
'''

SCRIPT = '''
import ember
from helper import Point, double

ember.init()
remote_double = ember.remote(double)
result = ember.get(remote_double.remote(ember.put(Point(21))))
print("answer", result.x, type(result).__name__)
ember.shutdown()
'''


def test_a_helper_module_beside_the_script_reaches_the_workers(tmp_path):
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "script.py").write_text(SCRIPT)
    with dask_cluster(workers=1) as (address, _):
        done = subprocess.run([sys.executable, str(tmp_path / "script.py")], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "EMBER_ADDRESS": address}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "answer 42 Point" in done.stdout
