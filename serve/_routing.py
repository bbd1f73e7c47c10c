"""Power of two choices: pick two replicas at random, send to the one with fewer in flight.

Pure bookkeeping shared by the HTTP proxy and by handles: no I/O, no clock, so the
choice is testable with a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def choose(candidates: Sequence[K], in_flight: dict[K, int], limit: int | None = None,
           rng: random.Random | None = None) -> K | None:
    """The less loaded of two random candidates, or None if every candidate is full.

    Args:
        candidates: replica ids that may take requests.
        in_flight: requests each replica has now (missing ids count as 0).
        limit: a replica with this many in flight is full (None: no limit).
        rng: source of randomness (tests pass a seeded one).
    """
    rng = rng or random
    count = len(candidates)
    if count == 0:
        return None
    if count == 1:
        only = candidates[0]
        return only if limit is None or in_flight.get(only, 0) < limit else None
    first, second = rng.sample(range(count), 2)
    a, b = candidates[first], candidates[second]
    best = a if in_flight.get(a, 0) <= in_flight.get(b, 0) else b
    if limit is None or in_flight.get(best, 0) < limit:
        return best
    # Both sampled replicas are full: look at all of them before giving up.
    free = [c for c in candidates if in_flight.get(c, 0) < limit]
    if not free:
        return None
    return min(free, key=lambda c: in_flight.get(c, 0))
