"""On a Dask cluster an actor's name belongs to its session, unless it is detached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from tests_support import wait_for
from tests_support.dask_cluster import dask_cluster

import ember

pytestmark = pytest.mark.cluster


@ember.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n


def test_a_name_is_free_again_after_its_session_shuts_down():
    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        for _ in range(2):  # the second session may take the same name
            ember.init(address=address)
            try:
                counter = Counter.options(name="hits").remote()
                assert ember.get(counter.incr.remote(), timeout=60) == 1
                assert ember.get(ember.get_actor("hits").incr.remote(), timeout=60) == 2
            finally:
                ember.shutdown()


def test_a_name_is_free_again_after_its_driver_is_killed(tmp_path):
    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        script = tmp_path / "driver.py"
        script.write_text(textwrap.dedent(f"""
            import sys, ember
            ember.init(address={address!r})

            @ember.remote
            class Holder:
                def ping(self):
                    return "pong"

            holder = Holder.options(name="taken").remote()
            assert ember.get(holder.ping.remote()) == "pong"
            print("ready", flush=True)
            sys.stdin.read()
        """))
        driver = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ})
        try:
            assert driver.stdout.readline().strip() == "ready"
            driver.send_signal(signal.SIGKILL)
            driver.wait(30)
        finally:
            driver.stdin.close()
            driver.stdout.close()
        ember.init(address=address)
        try:
            def name_is_free() -> bool:
                try:
                    ember.get_actor("taken")
                    return False
                except ValueError:
                    return True
            assert wait_for(name_is_free, timeout=60)
            counter = Counter.options(name="taken").remote()
            assert ember.get(counter.incr.remote(), timeout=60) == 1
        finally:
            ember.shutdown()


def test_a_detached_actor_outlives_its_session_until_killed():
    ember.shutdown()
    with dask_cluster(workers=1) as (address, _):
        ember.init(address=address)
        try:
            counter = Counter.options(name="kept", lifetime="detached").remote()
            assert ember.get(counter.incr.remote(), timeout=60) == 1
        finally:
            ember.shutdown()
        ember.init(address=address)
        try:
            kept = ember.get_actor("kept")
            assert ember.get(kept.incr.remote(), timeout=60) == 2  # the same instance
            ember.kill(kept)
            with pytest.raises(ValueError, match="no actor named 'kept'"):
                ember.get_actor("kept")
        finally:
            ember.shutdown()
