"""What tasks and actors print reaches the driver line by line, labelled, even piped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from tests_support import wait_for

import ember

DRIVER = textwrap.dedent("""
    import logging, os, signal, sys
    import ember

    ember.init(num_cpus=2, log_to_driver={log_to_driver})

    @ember.remote
    def greet(i):
        print("hello from task", i)
        print("to stderr", i, file=sys.stderr)
        logging.warning("a log record %d", i)
        return i

    @ember.remote
    def unfinished():
        print("no newline at the end", end="")
        return 0

    @ember.remote
    class Counter:
        def incr(self):
            print("counting")
            return 1

    @ember.remote(max_retries=0)
    def die():
        print("last words")
        os.kill(os.getpid(), signal.SIGKILL)

    assert ember.get([greet.remote(i) for i in range(3)]) == [0, 1, 2]
    assert ember.get(unfinished.remote()) == 0
    assert ember.get(Counter.remote().incr.remote()) == 1
    try:
        ember.get(die.remote())
    except ember.WorkerCrashedError:
        pass
    ember.shutdown()
    print("driver done")
""")


def _run_driver(tmp_path, log_to_driver: bool) -> tuple[str, str]:
    """Run the driver with stdout and stderr going to files (as under nohup or CI)."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(log_to_driver=log_to_driver))
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        result = subprocess.run([sys.executable, str(script)], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, timeout=120, env={**os.environ}, check=False)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert result.returncode == 0, stderr
    return stdout, stderr


def test_task_and_actor_output_reaches_a_piped_driver_labelled(tmp_path):
    stdout, stderr = _run_driver(tmp_path, log_to_driver=True)
    for i in range(3):
        assert re.search(rf"^\(greet pid=\d+\) hello from task {i}$", stdout, re.MULTILINE), stdout
        assert re.search(rf"^\(greet pid=\d+\) to stderr {i}$", stderr, re.MULTILINE), stderr
        assert re.search(rf"^\(greet pid=\d+\) WARNING:root:a log record {i}$", stderr, re.MULTILINE)
    assert re.search(r"^\(unfinished pid=\d+\) no newline at the end$", stdout, re.MULTILINE), stdout
    assert re.search(r"^\(Counter pid=\d+\) counting$", stdout, re.MULTILINE), stdout
    # printed right before the worker was SIGKILLed: still delivered
    assert re.search(r"^\(die pid=\d+\) last words$", stdout, re.MULTILINE), stdout
    assert stdout.rstrip().endswith("driver done")  # every worker line came before
    assert "\x1e" not in stdout + stderr  # the label marks never leak


def test_log_to_driver_false_leaves_worker_output_alone(tmp_path):
    stdout, stderr = _run_driver(tmp_path, log_to_driver=False)
    assert "pid=" not in stdout and "pid=" not in stderr
    assert "driver done" in stdout


def test_lines_go_to_the_drivers_current_sys_stdout(capsys):
    """A notebook replaces sys.stdout with its cell output: lines must land there."""
    ember.shutdown()
    ember.init(num_cpus=1)
    try:
        @ember.remote
        def shout(word):
            print(word.upper())
            return word

        assert ember.get(shout.remote("quiet"), timeout=30) == "quiet"
        seen = []

        def arrived() -> bool:
            seen.append(capsys.readouterr().out)
            return "QUIET" in "".join(seen)
        assert wait_for(arrived, timeout=30), seen
        assert re.search(r"\(shout pid=\d+\) QUIET", "".join(seen))
    finally:
        ember.shutdown()


def test_log_to_driver_must_be_a_bool():
    ember.shutdown()
    with pytest.raises(TypeError, match="log_to_driver"):
        ember.init(log_to_driver="yes")


@pytest.mark.cluster
def test_task_and_actor_output_on_a_dask_cluster_reaches_the_driver(capsys):
    from tests_support.dask_cluster import dask_cluster

    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        ember.init(address=address)
        try:
            @ember.remote
            def hello(i):
                print("hello from dask", i)
                print("oops", i, file=sys.stderr)
                return i

            @ember.remote
            class Greeter:
                def greet(self):
                    print("plain method")

                async def agreet(self):
                    print("async method")

            assert ember.get([hello.remote(i) for i in range(2)], timeout=60) == [0, 1]
            greeter = Greeter.remote()
            ember.get([greeter.greet.remote(), greeter.agreet.remote()], timeout=60)
            seen_out, seen_err = [], []

            def arrived() -> bool:
                captured = capsys.readouterr()
                seen_out.append(captured.out)
                seen_err.append(captured.err)
                out = "".join(seen_out)
                return all(f"hello from dask {i}" in out for i in range(2)) and \
                    "async method" in out and "plain method" in out and \
                    "oops 1" in "".join(seen_err)
            assert wait_for(arrived, timeout=30), (seen_out, seen_err)
            out = "".join(seen_out)
            assert re.search(r"^\(hello pid=\d+, host=\S+\) hello from dask 0$", out, re.MULTILINE)
            assert re.search(r"^\(Greeter pid=\d+, host=\S+\) plain method$", out, re.MULTILINE)
            assert re.search(r"^\(Greeter pid=\d+, host=\S+\) async method$", out, re.MULTILINE)
            assert re.search(r"^\(hello pid=\d+, host=\S+\) oops 1$", "".join(seen_err), re.MULTILINE)
        finally:
            ember.shutdown()


@ember.remote
def _log_from_a_worker():
    import logging

    logging.getLogger("ember.serve").info("request line from a worker")
    return True


def test_init_logging_level_reaches_worker_processes(capfd):
    ember.shutdown()
    ember.init(num_cpus=1, logging_level="INFO")
    try:
        assert ember.get(_log_from_a_worker.remote())
    finally:
        ember.shutdown()
    assert "request line from a worker" in capfd.readouterr().err
