"""``init(backend="dask")``: a LocalCluster in a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from tests_support import wait_for

pytestmark = pytest.mark.cluster

SCRIPT = textwrap.dedent("""
    import os, sys
    import ember

    ember.init(backend="dask", num_cpus=2)   # no `if __name__ == "__main__":` guard

    @ember.remote
    def square(x):
        return x * x

    print("result", sum(ember.get([square.remote(i) for i in range(10)])), flush=True)
    if len(sys.argv) > 1:                    # wait to be killed
        print("pid", os.getpid(), flush=True)
        sys.stdin.read()
    ember.shutdown()
""")


def test_a_script_without_a_main_guard_runs_on_a_local_dask_cluster(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=180, stdin=subprocess.DEVNULL, env={**os.environ}, check=False)
    assert result.returncode == 0, result.stderr
    assert "result 285" in result.stdout
    assert "bootstrapping phase" not in result.stderr


def test_the_local_cluster_ends_with_a_killed_driver(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT)
    driver = subprocess.Popen([sys.executable, str(script), "wait"], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().startswith("result 285")
        assert driver.stdout.readline().startswith("pid")
        cluster = psutil.Process(driver.pid).children(recursive=True)
        assert cluster, "the cluster's processes run under the driver"
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)

        def all_gone() -> bool:
            for process in cluster:
                try:
                    if process.status() != psutil.STATUS_ZOMBIE:
                        return False
                except psutil.NoSuchProcess:
                    pass
            return True
        assert wait_for(all_gone, timeout=60), [p.pid for p in cluster if p.is_running()]
    finally:
        if driver.poll() is None:
            driver.kill()
        driver.stdin.close()
        driver.stdout.close()


@pytest.mark.parametrize("resources,workers,shares", [
    ({"foo": 1}, 2, [{"foo": 1.0}, {}]),
    ({"GPU": 2}, 2, [{"GPU": 1.0}, {"GPU": 1.0}]),
    ({"GPU": 3}, 2, [{"GPU": 2.0}, {"GPU": 1.0}]),
    ({"mem": 0.5}, 2, [{"mem": 0.5}, {}]),
    ({"foo": 1, "bar": 4}, 1, [{"foo": 1.0, "bar": 4.0}]),
])
def test_custom_resources_are_dealt_in_whole_units(resources, workers, shares):
    from ember.core.dask._local import split_resources

    assert split_resources(resources, workers) == shares


def test_a_whole_custom_resource_is_usable_on_a_local_cluster():
    import ember

    ember.shutdown()
    ember.init(backend="dask", num_cpus=2, resources={"foo": 1})
    try:
        assert ember.cluster_resources()["foo"] == 1

        @ember.remote(resources={"foo": 1})
        def needs_foo():
            return "ran"

        assert ember.get(needs_foo.remote(), timeout=60) == "ran"
    finally:
        ember.shutdown()


def test_large_arguments_never_travel_inside_the_task_graph():
    """Dask warns "Sending large graph" (an error under pytest's warning filter) when a
    task's arguments are inside its graph; Ember sends them as an object of their own."""
    import warnings

    import numpy as np

    import ember

    ember.shutdown()
    ember.init(backend="dask", num_cpus=1)
    try:
        @ember.remote
        def total(values, nested):
            return float(values.sum() + nested["x"].sum())

        @ember.remote
        class Summer:
            def total(self, values):
                return float(values.sum())

        big = np.ones(20 * 1024 * 1024 // 8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert ember.get(total.remote(big, {"x": big}), timeout=120) == 2 * big.size
            summer = Summer.remote()
            assert ember.get(summer.total.remote(big), timeout=120) == big.size
    finally:
        ember.shutdown()


@pytest.mark.cluster
def test_ember_address_makes_an_unchanged_script_run_on_the_cluster(tmp_path):
    from tests_support.dask_cluster import dask_cluster

    script = tmp_path / "script.py"
    script.write_text(
        "import ember\n"
        "@ember.remote\n"
        "def where():\n"
        "    import distributed\n"
        "    return distributed.get_worker().address\n"
        "print('ran on', ember.get(where.remote()))\n")  # no init(): the first call starts it
    with dask_cluster(workers=1) as (address, _):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "EMBER_ADDRESS": address}, check=False)
    assert done.returncode == 0, done.stderr
    assert "ran on tcp://127.0.0.1:" in done.stdout
