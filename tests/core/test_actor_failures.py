"""Every way an actor's process can die, as one table: restarts, retries, final errors."""

from __future__ import annotations

import os

import pytest
from tests_support import wait_for

import ember
from ember import ActorDiedError

pytestmark = pytest.mark.usefixtures("session")

DEATHS = {
    "SIGKILL": "os.kill(os.getpid(), signal.SIGKILL)",
    "SIGTERM": "os.kill(os.getpid(), signal.SIGTERM)",
    "exit code 1": "os._exit(1)",
    "SIGSEGV": "import ctypes; ctypes.string_at(0)",
}


@ember.remote
class Fragile:
    def __init__(self):
        self.calls = 0
        self.generation = os.getpid()

    def work(self):
        self.calls += 1
        return self.calls, os.getpid()

    def die(self, how):
        import os  # noqa: F401 - used by the exec'd statement
        import signal  # noqa: F401 - used by the exec'd statement
        exec(how)  # noqa: S102 - the test runs each way of dying from the DEATHS table


@pytest.mark.parametrize("how", list(DEATHS.values()), ids=list(DEATHS))
def test_actor_restarts_after_its_process_dies(how):
    actor = Fragile.options(max_restarts=1).remote()
    _, first_pid = ember.get(actor.work.remote())
    with pytest.raises(ActorDiedError, match="died during this call.*restarting"):
        ember.get(actor.die.remote(how))
    calls, second_pid = ember.get(actor.work.remote())
    assert second_pid != first_pid
    assert calls == 1, "__init__ ran again: the state is fresh"


@pytest.mark.parametrize("cause,how", list(DEATHS.items()), ids=list(DEATHS))
def test_actor_without_restarts_reports_how_it_died(cause, how):
    actor = Fragile.remote()
    _, pid = ember.get(actor.work.remote())
    with pytest.raises(ActorDiedError) as info:
        ember.get(actor.die.remote(how))
    message = str(info.value)
    assert "Fragile" in message and str(pid) in message and cause in message
    assert "0/0" in message and "max_restarts" in message
    with pytest.raises(ActorDiedError, match="Fragile"):
        ember.get(actor.work.remote())


def test_calls_in_flight_are_retried_with_max_task_retries(tmp_path):
    @ember.remote
    class DiesOnce:
        def __init__(self, marker):
            self.marker = marker

        def maybe_die(self):
            if not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(1)
            return "survived"

    actor = DiesOnce.options(max_restarts=1, max_task_retries=1).remote(str(tmp_path / "m"))
    assert ember.get(actor.maybe_die.remote()) == "survived"


def test_restarts_are_counted_and_then_exhausted():
    actor = Fragile.options(max_restarts=2).remote()
    for _ in range(3):
        with pytest.raises(ActorDiedError):
            ember.get(actor.die.remote(DEATHS["SIGKILL"]))
    with pytest.raises(ActorDiedError, match="restarted 2/2 times"):
        ember.get(actor.work.remote())


def test_kill_with_restart_allowed_restarts_the_actor():
    actor = Fragile.options(max_restarts=1).remote()
    _, pid = ember.get(actor.work.remote())
    ember.kill(actor, no_restart=False)

    def restarted() -> bool:
        try:
            return ember.get(actor.work.remote())[1] != pid
        except ActorDiedError:  # a call that was in flight when the kill landed
            return False
    assert wait_for(restarted, timeout=20)


def test_dead_actor_returns_its_resources():
    actor = Fragile.options(num_cpus=1).remote()
    ember.get(actor.work.remote())
    assert ember.available_resources()["CPU"] == 1
    with pytest.raises(ActorDiedError):
        ember.get(actor.die.remote(DEATHS["SIGKILL"]))
    assert wait_for(lambda: ember.available_resources()["CPU"] == 2)


@ember.remote(max_restarts=2)
class Quitter:
    def pid(self):
        return os.getpid()

    def quit(self, code):
        import sys

        sys.exit(code)


@ember.remote(max_restarts=2, max_concurrency=2)
class ThreadedQuitter:
    def pid(self):
        return os.getpid()

    def quit(self, code):
        import sys

        sys.exit(code)


@ember.remote(max_restarts=2)
class AsyncQuitter:
    async def pid(self):
        return os.getpid()

    async def quit(self, code):
        import sys

        sys.exit(code)


@pytest.mark.parametrize("actor_class", [Quitter, ThreadedQuitter, AsyncQuitter],
                         ids=["plain", "threaded", "async"])
def test_sys_exit_in_a_method_ends_the_actor_without_restarts(actor_class):
    import psutil

    actor = actor_class.remote()
    pid = ember.get(actor.pid.remote(), timeout=30)
    with pytest.raises(ActorDiedError) as died:
        ember.get(actor.quit.remote(3), timeout=30)
    assert "sys.exit(3)" in str(died.value) and "quit" in str(died.value)
    with pytest.raises(ActorDiedError):  # ended on purpose: not restarted
        ember.get(actor.pid.remote(), timeout=30)

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    assert wait_for(gone, timeout=30)
