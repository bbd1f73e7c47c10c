"""Placement groups: reserve several bundles of resources at once, all or none.

Train workers and tune trials are gang-scheduled through them: a group's bundles are
taken from the node atomically when all fit, and tasks or actors placed in a bundle
draw from that reservation instead of the node's free pool. On one machine PACK and
SPREAD differ only in bookkeeping; STRICT_SPREAD needs one machine per bundle.
"""

from __future__ import annotations

import math
from typing import Any

from . import _context
from ._object_ref import ObjectRef

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class PlacementGroup:
    """A handle to a reservation; made by ``ember.placement_group`` (no public constructor).

    Example::

        pg = ember.placement_group([{"CPU": 1}, {"CPU": 1}], strategy="PACK")
        ember.get(pg.ready())
        task.options(placement_group=pg, placement_group_bundle_index=0).remote()
        ember.remove_placement_group(pg)
    """

    id: int
    bundle_specs: list[dict[str, float]]
    strategy: str
    name: str | None
    _ready_ref: ObjectRef[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("placement groups are created with ember.placement_group(bundles)")

    @classmethod
    def _make(cls, group_id: int, bundles: list[dict[str, float]], strategy: str,
              name: str | None, ready_ref: ObjectRef[Any]) -> PlacementGroup:
        group = object.__new__(cls)
        group.id = group_id
        group.bundle_specs = bundles
        group.strategy = strategy
        group.name = name
        group._ready_ref = ready_ref
        return group

    @property
    def bundle_count(self) -> int:
        return len(self.bundle_specs)

    def ready(self) -> ObjectRef[Any]:
        """An ObjectRef that becomes ready (with this group) once all bundles are reserved."""
        return self._ready_ref

    def wait(self, timeout_seconds: float | None = 30) -> bool:
        """Whether the group was reserved within ``timeout_seconds``.

        Args:
            timeout_seconds: seconds to wait at most (default 30, as in Ray). None:
                wait until it is reserved.

        Returns:
            True once every bundle is reserved, False on timeout.
        """
        ready, _ = _context.current().wait([self._ready_ref], 1, timeout_seconds)
        return bool(ready)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlacementGroup._make,
                (self.id, self.bundle_specs, self.strategy, self.name, self._ready_ref))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup(id={self.id:x}, bundles={self.bundle_specs}, {self.strategy})"


def check_bundles(bundles: Any, strategy: Any) -> list[dict[str, float]]:
    """Validate ``bundles``/``strategy``; returns normalized bundles (CPU/GPU keys kept)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not isinstance(bundles, (list, tuple)) or not bundles:
        raise ValueError(
            f"bundles must be a non-empty list of resource dicts such as [{{'CPU': 1}}], "
            f"got {bundles!r}")
    normalized = []
    for index, bundle in enumerate(bundles):
        if not isinstance(bundle, dict) or not bundle:
            raise ValueError(
                f"bundle {index} must be a non-empty dict like {{'CPU': 1}}, got {bundle!r}")
        clean = {}
        for key, amount in bundle.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"bundle {index}: resource names must be strings, got {key!r}")
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                    or math.isnan(amount) or amount < 0:
                raise ValueError(
                    f"bundle {index}: {key} must be a non-negative number, got {amount!r}")
            if amount:
                clean[key] = float(amount)
        if not clean:
            raise ValueError(
                f"bundle {index} reserves nothing ({bundle!r}); give it a positive amount "
                "such as {'CPU': 1}")
        normalized.append(clean)
    return normalized
