"""ember.util.ActorPool: Ray's ActorPool, on the embedded engine."""

from __future__ import annotations

import pytest

import ember
from ember.util import ActorPool

pytestmark = pytest.mark.usefixtures("session")


@ember.remote(num_cpus=0)
class Doubler:
    def double(self, value):
        return 2 * value

    def fail(self, value):
        raise ValueError(f"bad {value}")


def _pool(size: int = 2) -> ActorPool:
    return ActorPool([Doubler.remote() for _ in range(size)])


def test_map_returns_results_in_input_order():
    pool = _pool()
    assert list(pool.map(lambda actor, v: actor.double.remote(v), range(10))) == \
        [2 * v for v in range(10)]


def test_map_unordered_returns_every_result():
    pool = _pool()
    results = pool.map_unordered(lambda actor, v: actor.double.remote(v), range(10))
    assert sorted(results) == [2 * v for v in range(10)]


def test_submit_queues_beyond_the_pool_and_get_next_keeps_order():
    pool = _pool(size=1)
    for value in range(5):
        pool.submit(lambda actor, v: actor.double.remote(v), value)
    assert not pool.has_free()
    assert [pool.get_next(timeout=30) for _ in range(5)] == [0, 2, 4, 6, 8]
    assert not pool.has_next() and pool.has_free()
    with pytest.raises(StopIteration):
        pool.get_next()


def test_push_and_pop_idle_change_the_pool():
    pool = _pool(size=1)
    extra = Doubler.remote()
    pool.push(extra)
    assert pool.pop_idle() is not None and pool.pop_idle() is not None
    assert pool.pop_idle() is None
    pool.push(extra)
    assert list(pool.map(lambda actor, v: actor.double.remote(v), [7])) == [14]


def test_a_failing_call_raises_its_error_and_the_pool_keeps_working():
    pool = _pool()
    pool.submit(lambda actor, v: actor.fail.remote(v), 1)
    with pytest.raises(ValueError, match="bad 1"):
        pool.get_next(timeout=30)
    assert list(pool.map(lambda actor, v: actor.double.remote(v), [1, 2])) == [2, 4]


@pytest.mark.parametrize("make,error", [
    (lambda: ActorPool([]), ValueError),
    (lambda: _pool().submit(lambda actor, v: v, 1), TypeError),
])
def test_bad_input_names_the_fix(make, error):
    with pytest.raises(error, match="ActorPool"):
        make()
