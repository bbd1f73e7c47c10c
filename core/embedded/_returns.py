"""Splitting a task's return value into its ``num_returns`` values (worker side)."""

from __future__ import annotations

from typing import Any


def split_returns(value: Any, count: int, name: str) -> list[Any]:
    if count <= 1:
        return [value]
    try:
        values = list(value)
    except TypeError:
        raise ValueError(
            f"task {name} has num_returns={count} but returned a {type(value).__name__}, "
            f"not a sequence of {count} values") from None
    if len(values) != count:
        raise ValueError(
            f"task {name} has num_returns={count} but returned {len(values)} values")
    return values
