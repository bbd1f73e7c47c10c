"""``ActorPoolStrategy``: run a stage on a pool of actors, for stateful functions
(a model is loaded once per actor, in ``__init__``), growing the pool under load.

    blocks ──> least-busy actor of the pool (at most 2 blocks queued per actor)
               all busy and below max_size ──> one more actor
    output order is input order; the pool ends with the stage
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import ember
from ember.exceptions import TaskError

from ._operator_errors import labels, make_readable
from ._transforms import run_chain


class ActorPoolStrategy:
    """``ActorPoolStrategy(size=n)`` or ``ActorPoolStrategy(min_size=a, max_size=b)``.

    Example::

        ds.map_batches(Model, compute=ember.data.ActorPoolStrategy(min_size=1, max_size=2))

    The pool starts ``min_size`` actors when the stage starts, sends each block to the
    least busy one (at most 2 queued per actor), adds one actor while all are that busy
    and the pool is below ``max_size``, and kills its actors when the stage ends.
    Output blocks keep the input order. Ray's ``initial_size`` and
    ``max_tasks_in_flight_per_actor`` are not accepted.

    Args:
        size: a fixed pool of this many actors (sets both bounds; not with
            ``min_size`` / ``max_size``). Default None: use the bounds.
        min_size: actors started up front, a positive int. Default None: 1.
        max_size: the most actors the pool grows to, a positive int >= ``min_size``.
            Default None: ``max(min_size, 4)`` (Ray's default is unbounded).

    Raises:
        ValueError: ``size`` together with a bound, a bound that is not a positive
            int, or ``min_size > max_size``.
    """

    def __init__(self, size: int | None = None, *, min_size: int | None = None,
                 max_size: int | None = None):
        if size is not None:
            if min_size is not None or max_size is not None:
                raise ValueError("pass either size= or min_size=/max_size=, not both")
            min_size = max_size = size
        min_size = 1 if min_size is None else min_size
        max_size = max(min_size, 4) if max_size is None else max_size
        for name, value in (("min_size", min_size), ("max_size", max_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ActorPoolStrategy {name} must be a positive int, got {value!r}")
        if min_size > max_size:
            raise ValueError(f"min_size ({min_size}) is larger than max_size ({max_size})")
        self.min_size = min_size
        self.max_size = max_size

    @classmethod
    def from_concurrency(cls, concurrency: Any) -> ActorPoolStrategy:
        """The pool ``map_batches(concurrency=...)`` asks for.

        Args:
            concurrency: an int ``n`` (a fixed pool of ``n`` actors) or a
                ``(min_size, max_size)`` tuple.

        Returns:
            An ActorPoolStrategy.
        """
        if isinstance(concurrency, tuple) and len(concurrency) == 2:
            return cls(min_size=concurrency[0], max_size=concurrency[1])
        return cls(size=concurrency)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorPoolStrategy) and \
            (other.min_size, other.max_size) == (self.min_size, self.max_size)

    def __repr__(self) -> str:
        return f"ActorPoolStrategy(min_size={self.min_size}, max_size={self.max_size})"


@ember.remote
class _MapWorker:
    def __init__(self, transforms: list[Any]):
        self.transforms = transforms
        for transform in transforms:  # build a callable class now, once per actor
            getattr(transform, "_callable", lambda: None)()

    @ember.method(num_returns=2)
    def run(self, table: Any) -> tuple[Any, int]:
        table = run_chain(table, self.transforms)
        return table, table.num_rows


_PER_ACTOR = 2


def actor_stage(upstream: Iterator[tuple[Any, int]], transforms: list[Any],
                strategy: ActorPoolStrategy, resources: dict[str, float]) -> Iterator[tuple[Any, int]]:
    # Pool actors hold no CPU unless asked (num_cpus=): holding one each could starve
    # the upstream tasks that feed them on a small machine.
    make = _MapWorker.options(num_cpus=resources.get("num_cpus", 0),
                              num_gpus=resources.get("num_gpus", 0))
    pool = [make.remote(transforms) for _ in range(strategy.min_size)]
    load = [0] * len(pool)
    pending: collections.deque[tuple[Any, Any, int]] = collections.deque()
    upstream = iter(upstream)
    try:
        exhausted = False
        while True:
            while not exhausted and min(load) < _PER_ACTOR:
                item = next(upstream, None)
                if item is None:
                    exhausted = True
                    break
                actor = load.index(min(load))
                block_ref, rows_ref = pool[actor].run.remote(item[0])
                load[actor] += 1
                pending.append((block_ref, rows_ref, actor))
            if not exhausted and min(load) >= _PER_ACTOR and len(pool) < strategy.max_size:
                pool.append(make.remote(transforms))  # everyone is busy: grow
                load.append(0)
                continue
            if not pending:
                return
            block_ref, rows_ref, actor = pending.popleft()
            try:
                rows = ember.get(rows_ref)
            except TaskError as error:
                make_readable(error, labels(transforms))
                raise
            load[actor] -= 1
            yield block_ref, rows
    finally:
        for actor in pool:
            ember.kill(actor)
