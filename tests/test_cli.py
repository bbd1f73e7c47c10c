"""The ``ember`` command: --version, doctor, timeline (serve has its own tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ember


def _ember(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "ember", *args], capture_output=True,
                          text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def test_version_and_help():
    assert _ember("--version").stdout.strip() == f"ember {ember.__version__}"
    bare = _ember()
    assert bare.returncode == 2  # a usage error, as argparse's own
    assert all(command in bare.stdout for command in ("serve", "timeline", "doctor"))
    assert _ember("serve").returncode == 2


def test_a_command_error_is_one_line_with_the_fix_and_exit_code_1(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    program = ("import ember\n@ember.remote\ndef one():\n    return 1\n"
               "ember.get(one.remote())\nember.shutdown()\n")
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60,
                   env={**os.environ, **env})  # leaves a trace to export
    done = _ember("timeline", "-o", str(tmp_path / "no" / "such" / "trace.json"), env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("ember timeline: cannot write ")
    assert "-o/--output" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_doctor_reports_versions_and_a_working_engine(tmp_path):
    done = _ember("doctor", env={"EMBER_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded engine: ok" in done.stdout and "numpy" in done.stdout
    assert "no problems found" in done.stdout
    assert not os.listdir(tmp_path)  # its own check leaves no trace behind


def test_doctor_names_the_fix_for_an_unreachable_cluster(tmp_path):
    done = _ember("doctor", "--address", "tcp://127.0.0.1:9", env={"EMBER_CACHE_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "PROBLEM dask cluster tcp://127.0.0.1:9" in done.stdout
    assert "fix: start it" in done.stdout


def test_timeline_exports_the_last_sessions_trace(tmp_path):
    env = {"EMBER_CACHE_DIR": str(tmp_path / "cache")}
    missing = _ember("timeline", "-o", str(tmp_path / "none.json"), env=env)
    assert missing.returncode == 1 and "no trace yet" in missing.stderr
    program = ("import ember\n@ember.remote\ndef square(x):\n    return x * x\n"
               "print(sum(ember.get([square.remote(i) for i in range(5)])))\n")
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=60, check=False, env={**os.environ, **env})
    assert ran.stdout.strip() == "30", ran.stderr  # no shutdown(): saved at exit all the same
    done = _ember("timeline", "-o", str(tmp_path / "trace.json"), env=env)
    assert done.returncode == 0, done.stderr
    trace = json.loads((tmp_path / "trace.json").read_text())
    names = [event["name"] for event in trace["traceEvents"]]
    assert names.count("square") == 5 and "wrote 5 task events" in done.stdout
