"""Starting and stopping: idempotent init, auto-init, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest
from tests_support import wait_for

import ember
from ember import EmberError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def test_init_is_idempotent_and_reports_the_session():
    ember.shutdown()
    context = ember.init(num_cpus=2)
    assert ember.is_initialized()
    assert context.num_cpus == 2
    assert ember.init(num_cpus=1).num_cpus == 2, "a second init returns the running session"
    ember.shutdown()
    assert not ember.is_initialized()


def test_api_use_before_init_starts_the_engine():
    ember.shutdown()
    assert ember.get(ember.put("auto")) == "auto"
    assert ember.is_initialized()
    ember.shutdown()


def test_context_manager_shuts_down():
    ember.shutdown()
    with ember.init(num_cpus=1):
        assert ember.is_initialized()
    assert not ember.is_initialized()


def test_refs_from_a_shut_down_session_fail_clearly():
    ember.shutdown()
    ember.init(num_cpus=1)
    ref = ember.put(1)
    ember.shutdown()
    with pytest.raises(EmberError, match="shut down"):
        ember.get(ref)
    assert ember.get(ember.put(2)) == 2, "the API starts a new session"
    ember.shutdown()


def test_shutdown_leaves_no_process_or_spill_folder():
    ember.shutdown()
    ember.init(num_cpus=2)

    @ember.remote
    def pid():
        return os.getpid()

    from ember.core._context import current

    node = current()
    workers = ember.get([pid.remote() for _ in range(4)])
    pids = set(workers) | {node.pool.process.pid}
    spill_dir = node.spill_dir
    ember.shutdown()
    assert wait_for(lambda: _gone(list(pids)))
    assert not os.path.exists(spill_dir)


DRIVER = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    import ember
    from ember.core._context import current
    ember.init(num_cpus=2, object_store_memory=32 << 20)

    @ember.remote
    def pid():
        return os.getpid()

    refs = [ember.put(np.ones(8 << 20, dtype=np.uint8)) for _ in range(6)]  # spills
    node = current()
    print(json.dumps({"pids": ember.get([pid.remote() for _ in range(4)])
                      + [node.pool.process.pid], "spill": node.spill_dir}), flush=True)
    if sys.argv[1] == "wait":
        time.sleep(120)
""")


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_nothing_remains_after_the_driver_ends(ending, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    process = subprocess.Popen([sys.executable, str(script), "wait" if ending == "sigkill" else "exit"],
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
    info = json.loads(process.stdout.readline())
    if ending == "sigkill":
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    assert wait_for(lambda: _gone(info["pids"]), timeout=20), "workers outlived the driver"
    assert wait_for(lambda: not os.path.exists(info["spill"]), timeout=20)


def test_local_mode_runs_tasks_in_the_calling_process():
    ember.shutdown()
    ember.init(local_mode=True)

    @ember.remote
    def where():
        return os.getpid()

    @ember.remote
    def fail():
        raise KeyError("k")

    assert ember.get(where.remote()) == os.getpid()
    with pytest.raises(KeyError):
        ember.get(fail.remote())
    ember.shutdown()


def test_timeline_writes_a_chrome_trace(tmp_path):
    ember.shutdown()
    ember.init(num_cpus=2)

    @ember.remote
    def work(i):
        return i

    ember.get([work.remote(i) for i in range(5)])
    path = tmp_path / "trace.json"
    events = ember.timeline(str(path))
    trace = json.loads(path.read_text())
    assert len(trace["traceEvents"]) == len(events) >= 5
    names = {event["name"] for event in trace["traceEvents"]}
    assert any(name.endswith("work") for name in names)
    assert all(event["ph"] == "X" and event["dur"] >= 0 for event in trace["traceEvents"])
    ember.shutdown()


def test_cluster_and_available_resources():
    ember.shutdown()
    ember.init(num_cpus=3, num_gpus=1, resources={"disk": 2})
    total = ember.cluster_resources()
    assert (total["CPU"], total["GPU"], total["disk"]) == (3, 1, 2)
    assert ember.available_resources()["CPU"] == 3
    ember.shutdown()


def test_gpu_tasks_see_their_assigned_devices():
    ember.shutdown()
    ember.init(num_cpus=2, num_gpus=2)

    @ember.remote(num_gpus=1)
    def visible():
        return os.environ.get("CUDA_VISIBLE_DEVICES")

    @ember.remote(num_gpus=2)
    def both():
        return os.environ.get("CUDA_VISIBLE_DEVICES")

    assert ember.get(visible.remote()) in {"0", "1"}
    assert ember.get(both.remote()) == "0,1"
    ember.shutdown()


@pytest.mark.parametrize("second_call", [
    {"address": "tcp://127.0.0.1:8786"},
    {"backend": "dask"},
    {"local_mode": True},
], ids=["address", "backend", "local_mode"])
def test_init_for_another_engine_while_running_names_the_fix(second_call):
    ember.shutdown()
    ember.init(num_cpus=1)
    try:
        with pytest.raises(RuntimeError, match=r"ember\.shutdown\(\) first"):
            ember.init(**second_call)
        assert ember.get(ember.put("still the embedded engine")) == "still the embedded engine"
        ember.init(num_cpus=1)  # the same engine again: returns the running session
    finally:
        ember.shutdown()


def test_init_with_ignore_reinit_error_false_refuses_a_second_call():
    ember.shutdown()
    ember.init(num_cpus=1)
    try:
        with pytest.raises(RuntimeError, match="already|while a session"):
            ember.init(num_cpus=1, ignore_reinit_error=False)
    finally:
        ember.shutdown()


def test_a_missing_spill_folder_is_a_clear_error(monkeypatch, tmp_path):
    ember.shutdown()
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("EMBER_SPILL_DIR", str(missing))
    with pytest.raises(EmberError, match="EMBER_SPILL_DIR") as failed:
        ember.init(num_cpus=1)
    assert str(missing) in str(failed.value) and "create that folder" in str(failed.value)
    assert not ember.is_initialized()
    monkeypatch.undo()
    ember.init(num_cpus=1)  # fixed: the engine starts
    ember.shutdown()
