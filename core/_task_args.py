"""Task arguments: top-level ObjectRefs are resolved to values before the task runs,
refs nested inside containers travel as refs (Ray's rule).

    submit:  (args, kwargs) -> Serialized(args with None holes) + [(slot, object_id)]
    execute: holes filled with the resolved values, then fn(*args, **kwargs)
"""

from __future__ import annotations

from typing import Any

from . import _serialization
from ._object_ref import ObjectRef

Slot = int | str


def split_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_serialization.Serialized, list[tuple[Slot, int]]]:
    ref_slots: list[tuple[Slot, int]] = []
    plain_args = list(args)
    for index, value in enumerate(args):
        if type(value) is ObjectRef:
            ref_slots.append((index, value._id))
            plain_args[index] = None
    plain_kwargs = kwargs
    if kwargs:
        plain_kwargs = dict(kwargs)
        for key, value in kwargs.items():
            if type(value) is ObjectRef:
                ref_slots.append((key, value._id))
                plain_kwargs[key] = None
    try:
        serialized = _serialization.dumps((plain_args, plain_kwargs))
    except TypeError:
        raise TypeError(_argument_blame(plain_args, plain_kwargs)) from None
    return serialized, ref_slots


def _argument_blame(args: list[Any], kwargs: dict[str, Any]) -> str:
    for index, value in enumerate(args):
        try:
            _serialization.dumps(value)
        except TypeError as error:
            where = _serialization.find_unpicklable(value, f"argument {index}")
            return f"could not serialize {where}: {error.__cause__ or error}"
    for key, value in kwargs.items():
        try:
            _serialization.dumps(value)
        except TypeError as error:
            where = _serialization.find_unpicklable(value, f"argument {key!r}")
            return f"could not serialize {where}: {error.__cause__ or error}"
    return "could not serialize the task's arguments"


def fill_slots(args: list[Any], kwargs: dict[str, Any], values: list[tuple[Slot, Any]]) -> None:
    for slot, value in values:
        if isinstance(slot, int):
            args[slot] = value
        else:
            kwargs[slot] = value
