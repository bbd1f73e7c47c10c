"""Dask-only: an actor whose worker is lost is re-created up to max_restarts, by its
owner as soon as the loss is known; a name dies with its actor."""

from __future__ import annotations

import os
import signal

import pytest
from tests_support import wait_for
from tests_support.dask_cluster import dask_cluster

import ember

pytestmark = pytest.mark.cluster


@ember.remote
class Host:
    def __init__(self):
        self.calls = 0

    def pid(self):
        self.calls += 1
        return os.getpid(), self.calls


def _answered(actor) -> tuple[int, int] | None:
    """The actor's (pid, calls), or None while a call still finds it dead."""
    try:
        return ember.get(actor.pid.remote(), timeout=60)
    except ember.ActorDiedError:  # a call sent before its owner saw the worker go
        return None


@pytest.mark.parametrize("max_restarts", [0, 1])
def test_dask_actor_on_a_lost_worker_restarts_or_dies(max_restarts):
    ember.shutdown()
    with dask_cluster(workers=2) as (address, _workers):
        ember.init(address=address)
        try:
            actor = Host.options(max_restarts=max_restarts).remote()
            pid, _ = ember.get(actor.pid.remote(), timeout=60)
            os.kill(pid, signal.SIGKILL)
            if max_restarts:
                answers = []
                assert wait_for(lambda: answers.append(_answered(actor)) or answers[-1],
                                timeout=60)
                new_pid, calls = answers[-1]
                assert new_pid != pid and calls == 1, "__init__ ran again on another worker"
            else:
                def buried() -> bool:
                    try:
                        ember.get(actor.pid.remote(), timeout=60)
                    except ember.ActorDiedError as error:
                        return "restarted 0/0" in str(error)
                    raise AssertionError("a dead actor answered")
                assert wait_for(buried, timeout=60)
        finally:
            ember.shutdown()


def test_a_lost_actor_is_restarted_before_anyone_calls_it():
    """Its owner notices the lost worker by itself (as the embedded engine notices an
    actor process exit): the first call after the restart simply works."""
    ember.shutdown()
    with dask_cluster(workers=2) as (address, _workers):
        ember.init(address=address)
        try:
            actor = Host.options(max_restarts=1, name="restartable").remote()
            pid, _ = ember.get(actor.pid.remote(), timeout=60)
            os.kill(pid, signal.SIGKILL)

            def new_incarnation_named() -> bool:
                record = ember.get_actor("restartable")._keepalive._id
                return record != actor._keepalive._id
            assert wait_for(new_incarnation_named, timeout=60), "never restarted"
            new_pid, calls = ember.get(actor.pid.remote(), timeout=60)
            assert (new_pid, calls) != (pid, 2) and calls == 1
            assert ember.get(ember.get_actor("restartable").pid.remote(), timeout=60)[1] == 2
        finally:
            ember.shutdown()


@ember.remote(num_cpus=1)  # each worker has one CPU: the owner and its actor never share one
class Owner:
    """Makes a named actor from a worker process, as serve's controller makes its proxy."""

    def make(self) -> int:
        self.host = Host.options(name="once", lifetime="detached", num_cpus=1).remote()
        return ember.get(self.host.pid.remote())[0]

    def make_again(self) -> bool:
        """After its worker was lost: True once the name is taken by a new actor."""
        try:
            ember.get(self.host.pid.remote())
        except ember.ActorDiedError:
            pass
        else:
            raise AssertionError("the dead actor answered")
        try:
            self.host = Host.options(name="once", lifetime="detached", num_cpus=1).remote()
        except ValueError:  # "already exists"
            return False
        return True


def test_the_name_of_an_actor_lost_for_good_is_free_again():
    ember.shutdown()
    with dask_cluster(workers=3) as (address, _workers):
        ember.init(address=address)
        try:
            owner = Owner.remote()
            pid = ember.get(owner.make.remote(), timeout=60)
            os.kill(pid, signal.SIGKILL)
            assert wait_for(lambda: ember.get(owner.make_again.remote(), timeout=60),
                            timeout=30), "the dead actor kept its name"
            again = ember.get_actor("once")
            assert ember.get(again.pid.remote(), timeout=60)[1] == 1
            ember.kill(again)
        finally:
            ember.shutdown()
