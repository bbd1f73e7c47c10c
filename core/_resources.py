"""Resource arithmetic every backend shares."""

from __future__ import annotations


def fits(available: dict[str, float], demand: dict[str, float]) -> bool:
    for key, amount in demand.items():
        if available.get(key, 0.0) < amount - 1e-9:
            return False
    return True
