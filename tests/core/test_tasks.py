"""Remote functions on the embedded engine: results, arguments, errors, retries, cancel."""

from __future__ import annotations

import os
import sys
import time

import pytest

import ember
from ember import (
    GetTimeoutError,
    InfeasibleResourcesError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

pytestmark = pytest.mark.usefixtures("session")


@ember.remote
def add(a, b=0):
    return a + b


@ember.remote
def identity(x):
    return x


@ember.remote
def fail(message):
    raise ValueError(message)


def test_remote_function_returns_its_result():
    assert ember.get(add.remote(1, 2)) == 3
    assert ember.get([add.remote(i, b=i) for i in range(5)]) == [0, 2, 4, 6, 8]


def test_top_level_ref_arguments_are_resolved_to_values():
    one = ember.put(1)
    assert ember.get(add.remote(one, b=add.remote(one, one))) == 3


def test_refs_nested_in_containers_are_passed_as_refs():
    @ember.remote
    def inspect(items):
        ref = items[0]
        return type(ref).__name__, ember.get(ref)

    assert ember.get(inspect.remote([ember.put("x")])) == ("ObjectRef", "x")


def test_results_can_be_chained_without_fetching():
    ref = ember.put(0)
    for _ in range(50):
        ref = add.remote(ref, 1)
    assert ember.get(ref) == 50


def test_num_returns_gives_one_ref_per_value():
    @ember.remote(num_returns=3)
    def three():
        return 1, "two", [3]

    first, second, third = three.remote()
    assert ember.get([first, second, third]) == [1, "two", [3]]


def test_num_returns_mismatch_is_a_task_error():
    @ember.remote(num_returns=2)
    def one_value():
        return 1

    with pytest.raises(ValueError, match="num_returns=2"):
        ember.get(one_value.remote()[0])


def test_options_override_without_changing_the_original():
    single = add.options(num_returns=1, num_cpus=0.5, name="adder")
    assert ember.get(single.remote(2, 2)) == 4
    assert add._options.num_cpus == 1


def test_user_exception_is_a_task_error_of_the_users_type():
    with pytest.raises(ValueError) as info:
        ember.get(fail.remote("boom"))
    error = info.value
    assert isinstance(error, TaskError)
    assert error.args == ("boom",)
    text = str(error)
    assert "boom" in text and "fail" in text and __file__ in text
    assert "_worker.py" not in text, "engine frames must be trimmed"


def test_custom_exception_attributes_survive():
    class QuotaError(Exception):
        def __init__(self, user, limit):
            super().__init__(f"{user} over {limit}")
            self.user, self.limit = user, limit

    @ember.remote
    def over_quota():
        raise QuotaError("ada", 3)

    with pytest.raises(QuotaError) as info:
        ember.get(over_quota.remote())
    assert (info.value.user, info.value.limit) == ("ada", 3)


def test_dependents_of_a_failed_task_raise_its_error():
    downstream = add.remote(fail.remote("upstream broke"), 1)
    with pytest.raises(ValueError, match="upstream broke"):
        ember.get(downstream)


def test_get_of_a_list_raises_the_first_error():
    with pytest.raises(ValueError, match="second"):
        ember.get([add.remote(1), fail.remote("second"), fail.remote("third")])


def test_nested_tasks_do_not_deadlock_on_two_cpus():
    @ember.remote
    def parent(n):
        return sum(ember.get([add.remote(i) for i in range(n)]))

    assert ember.get([parent.remote(5) for _ in range(20)]) == [10] * 20


def test_deeply_recursive_tasks_complete():
    @ember.remote
    def fib(n):
        if n < 2:
            return n
        return sum(ember.get([fib.remote(n - 1), fib.remote(n - 2)]))

    assert ember.get(fib.remote(8)) == 21


def test_tasks_can_submit_puts_and_waits():
    @ember.remote
    def producer():
        refs = [ember.put(i) for i in range(3)] + [add.remote(10)]
        ready, _ = ember.wait(refs, num_returns=4)
        return ember.get(ready)

    assert sorted(ember.get(producer.remote())) == [0, 1, 2, 10]


def test_large_arguments_are_passed_without_inlining():
    np = pytest.importorskip("numpy")
    array = np.arange(2_000_000, dtype=np.int64)

    @ember.remote
    def total(values):
        return int(values.sum()), values.flags.writeable

    assert ember.get(total.remote(array)) == (int(array.sum()), False)


def test_get_timeout_raises_get_timeout_error():
    @ember.remote
    def slow():
        time.sleep(30)

    ref = slow.remote()
    with pytest.raises(GetTimeoutError, match="timed out"):
        ember.get(ref, timeout=0.1)
    ember.cancel(ref, force=True)


def test_wait_returns_ready_refs_in_input_order():
    refs = [ember.put(i) for i in range(4)]
    ready, rest = ember.wait(refs, num_returns=2)
    assert ready == refs[:2] and rest == refs[2:]


def test_wait_timeout_returns_what_is_ready():
    @ember.remote
    def slow():
        time.sleep(30)

    pending = slow.remote()
    done = ember.put(1)
    ready, rest = ember.wait([pending, done], num_returns=2, timeout=0.2)
    assert ready == [done] and rest == [pending]
    ember.cancel(pending, force=True)


def test_infeasible_request_raises_at_submission():
    with pytest.raises(InfeasibleResourcesError, match="64 CPU"):
        add.options(num_cpus=64).remote(1)
    with pytest.raises(InfeasibleResourcesError, match="widget"):
        add.options(resources={"widget": 1}).remote(1)
    assert ember.get(add.remote(1)) == 1


def test_cancel_running_task_interrupts_it(tmp_path):
    @ember.remote
    def sleeper(started):
        open(started, "w").close()
        time.sleep(60)

    ref = sleeper.remote(str(tmp_path / "started"))
    _wait_for_file(tmp_path / "started")
    ember.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ember.get(ref, timeout=30)
    assert ember.get(add.remote(1)) == 1


def test_cancel_queued_task_never_runs(tmp_path):
    @ember.remote(num_cpus=2)
    def blocker():
        time.sleep(60)

    @ember.remote(num_cpus=2)
    def marker(path):
        open(path, "w").close()

    blocking = blocker.remote()
    queued = marker.remote(str(tmp_path / "ran"))
    ember.cancel(queued)
    with pytest.raises(TaskCancelledError):
        ember.get(queued, timeout=30)
    ember.cancel(blocking, force=True)
    with pytest.raises(TaskCancelledError):
        ember.get(blocking, timeout=30)
    assert not (tmp_path / "ran").exists()


def test_force_cancel_kills_the_worker(tmp_path):
    @ember.remote
    def stubborn(started):
        import signal as s
        s.signal(s.SIGUSR1, s.SIG_IGN)
        open(started, "w").close()
        while True:
            time.sleep(0.01)

    ref = stubborn.remote(str(tmp_path / "started"))
    _wait_for_file(tmp_path / "started")
    ember.cancel(ref, force=True)
    with pytest.raises(TaskCancelledError):
        ember.get(ref, timeout=30)
    assert ember.get(add.remote(2)) == 2


def _wait_for_file(path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), "the task never started"


# -- worker deaths: every known way, one table ------------------------------------------
DEATHS = {
    "SIGKILL": "os.kill(os.getpid(), signal.SIGKILL)",
    "SIGTERM": "os.kill(os.getpid(), signal.SIGTERM)",
    "exit code 1": "os._exit(1)",
    "SIGSEGV": "import ctypes; ctypes.string_at(0)",
}


def _dying_task():  # type: ignore[no-untyped-def]
    @ember.remote
    def die_once(marker, how):
        import os
        import signal  # noqa: F401 - used by the exec below
        if not os.path.exists(marker):
            open(marker, "w").close()
            exec(how)  # noqa: S102 - the test runs each way of dying from the DEATHS table
        return os.getpid()
    return die_once


@pytest.mark.parametrize("how", list(DEATHS.values()), ids=list(DEATHS))
def test_task_is_retried_after_its_worker_dies(how, tmp_path):
    pid = ember.get(_dying_task().remote(str(tmp_path / "died"), how), timeout=60)
    assert pid != os.getpid()


@pytest.mark.parametrize("cause,how", list(DEATHS.items()), ids=list(DEATHS))
def test_worker_death_without_retries_names_the_cause(cause, how, tmp_path):
    task = _dying_task().options(max_retries=0)
    with pytest.raises(WorkerCrashedError) as info:
        ember.get(task.remote(str(tmp_path / "died"), how), timeout=60)
    message = str(info.value)
    assert cause in message and "die_once" in message and "max_retries" in message
    assert ember.get(add.remote(3)) == 3, "the engine keeps running"
    assert ember.available_resources()["CPU"] == 2, "the dead worker's CPU came back"


def test_retry_exceptions_reruns_failing_task(tmp_path):
    @ember.remote(retry_exceptions=[OSError], max_retries=2)
    def flaky(marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise OSError("transient")
        return "ok"

    assert ember.get(flaky.remote(str(tmp_path / "m"))) == "ok"


def test_exceptions_are_not_retried_by_default(tmp_path):
    @ember.remote
    def flaky(marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise OSError("transient")
        return "ok"

    with pytest.raises(OSError):
        ember.get(flaky.remote(str(tmp_path / "m")))


# -- environment -----------------------------------------------------------------------
def test_worker_inherits_sys_path_cwd_and_environment(tmp_path, monkeypatch):
    (tmp_path / "ember_probe_module.py").write_text("VALUE = 'importable'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EMBER_TEST_FLAG", "on")
    monkeypatch.chdir(tmp_path)
    ember.shutdown()
    ember.init(num_cpus=2)

    @ember.remote
    def probe():
        import ember_probe_module
        return ember_probe_module.VALUE, os.environ.get("EMBER_TEST_FLAG"), os.getcwd()

    assert ember.get(probe.remote()) == ("importable", "on", str(tmp_path))
    ember.shutdown()
    sys.modules.pop("ember_probe_module", None)
    ember.init(num_cpus=2)


@pytest.mark.parametrize("code,status", [(None, 0), (3, 3), ("bye", 1)])
def test_sys_exit_in_a_task_is_an_ordinary_task_failure(code, status):
    @ember.remote(max_retries=0)
    def quit_(code):
        sys.exit(code)

    with pytest.raises(TaskError) as failed:
        ember.get(quit_.remote(code), timeout=30)
    assert not isinstance(failed.value, SystemExit)  # it would end the driver
    assert f"sys.exit({code!r})" in str(failed.value)
    assert f"exit code {status}" in str(failed.value)
    assert ember.get(add.remote(1, 1), timeout=30) == 2  # the engine keeps working


@ember.remote
def _fails_with_a_note():
    error = ValueError("bad input")
    error.add_note("while reading row 7")
    raise error


def test_a_remote_errors_notes_are_printed_once():
    import traceback

    with pytest.raises(ValueError) as raised:
        ember.get(_fails_with_a_note.remote())
    report = "".join(traceback.format_exception(raised.value))
    assert report.count("while reading row 7") == 1, report
