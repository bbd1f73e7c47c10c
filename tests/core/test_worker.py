"""The worker process's task loop: function bodies, bounced and cancelled EXECs, exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from tests_support import wait_for

import ember
from ember import TaskCancelledError


@pytest.fixture
def one_cpu():  # type: ignore[no-untyped-def]
    ember.shutdown()
    ember.init(num_cpus=1)
    yield
    ember.shutdown()


def test_cancelling_a_queued_task_keeps_its_function_usable_on_that_worker(one_cpu, tmp_path):
    """The first EXEC of a function carries its body; cancelling it while it waits in
    the busy worker's queue must not leave later calls of that function bodiless."""
    for round_ in range(10):
        started = tmp_path / f"started-{round_}"
        release = tmp_path / f"release-{round_}"

        @ember.remote
        def hold(started: str, release: str) -> int:
            import pathlib
            import time

            pathlib.Path(started).touch()
            while not pathlib.Path(release).exists():
                time.sleep(0.005)
            return 1

        @ember.remote
        def increment(x: int) -> int:  # a new function each round: its body is sent anew
            return x + 1

        held = hold.remote(str(started), str(release))
        assert wait_for(started.exists, timeout=30)
        doomed = increment.remote(0)  # queued behind `hold` on the only worker
        ember.cancel(doomed)
        release.touch()
        assert ember.get(held, timeout=30) == 1
        with pytest.raises(TaskCancelledError):
            ember.get(doomed, timeout=30)
        assert ember.get(increment.remote(41), timeout=30) == 42


@pytest.mark.parametrize("round_", range(3))
def test_nested_fan_outs_never_lose_a_function_body(round_):
    """Outer tasks blocked in get bounce the inner tasks' first EXECs back to the driver;
    the inner function must still run wherever those land (new functions each loop)."""
    ember.shutdown()
    ember.init(num_cpus=2)
    try:
        for _ in range(15):
            @ember.remote
            def inner(x: int) -> int:
                return x * x

            @ember.remote
            def outer(base: int) -> int:
                return sum(ember.get([inner.remote(base + i) for i in range(4)], timeout=60))

            expected = [sum((b + i) ** 2 for i in range(4)) for b in (0, 10, 20)]
            assert ember.get([outer.remote(b) for b in (0, 10, 20)], timeout=60) == expected
    finally:
        ember.shutdown()


def test_a_retired_worker_exits_cleanly(tmp_path):
    """Workers the driver retires (surplus after nested gets) see EOF and exit 0, without a
    traceback on the driver's stderr."""
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent("""
        import ember
        ember.init(num_cpus=2)

        @ember.remote
        def inner(x):
            return x + 1

        @ember.remote
        def outer(x):
            return sum(ember.get([inner.remote(x + i) for i in range(8)]))

        for _ in range(5):
            assert ember.get([outer.remote(i) for i in range(6)]) == \\
                [sum(i + j + 1 for j in range(8)) for i in range(6)]
        ember.shutdown()
        print("done")
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, env={**os.environ}, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Traceback" not in result.stderr, result.stderr
