"""One way to check settings, for the core and every library built on it.

A bad setting fails where it is written, with a message that names the setting, the
bad value and the fix; a misspelt key also gets the closest valid one::

    f.options(nmu_cpus=1)
    ValueError: unknown option 'nmu_cpus' (did you mean 'num_cpus'?) for f.options();
    valid options are: num_cpus, num_gpus, ...

Public so that the libraries (serve, train, tune, rl) check their configurations the
same way the core checks its options.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = ["check_choice", "check_number", "closest", "reject_unknown", "replace_checked",
           "suggest_keywords"]

T = TypeVar("T")


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name ``word`` most likely misspells, or None if none is close."""
    names = [choice for choice in choices if isinstance(choice, str)]
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not matches:  # case slips: "pack" for "PACK"
        matches = [name for name in names if name.lower() == word.lower()]
    return matches[0] if matches else None


def reject_unknown(what: str, given: Iterable[Any], valid: Iterable[str], *,
                   noun: str = "option", error: type[Exception] = ValueError) -> None:
    """Raise ``error`` if any of ``given`` is not among ``valid``; the message names
    each unknown one (with "did you mean" when one is close), ``what`` took them, and
    lists the valid ones."""
    valid = list(valid)
    unknown = sorted((key for key in set(given) if key not in valid), key=str)
    if not unknown:
        return
    named = []
    for key in unknown:
        guess = closest(key, valid) if isinstance(key, str) else None
        named.append(f"{key!r} (did you mean {guess!r}?)" if guess else repr(key))
    plural = "s" if len(unknown) > 1 else ""
    raise error(f"unknown {noun}{plural} {', '.join(named)} for {what}; "
                f"valid {noun}s are: {', '.join(valid)}")


def replace_checked(instance: T, what: str, overrides: dict[str, Any]) -> T:
    """``dataclasses.replace`` that rejects unknown keys (see ``reject_unknown``);
    fields whose names start with "_" are not settings."""
    valid = [f.name for f in dataclasses.fields(instance)  # type: ignore[arg-type]
             if not f.name.startswith("_")]
    reject_unknown(what, overrides, valid)
    return dataclasses.replace(instance, **overrides)  # type: ignore[type-var]


def suggest_keywords(cls: type[T]) -> type[T]:
    """Class decorator for a settings dataclass: an unknown keyword raises TypeError (as
    Python's own does) naming the closest field, e.g. ``ScalingConfig(num_worker=2)``."""
    init = cls.__init__
    valid = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]

    @functools.wraps(init)
    def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if not set(kwargs) <= set(valid):
            reject_unknown(f"{cls.__name__}()", kwargs, valid, noun="argument",
                           error=TypeError)
        init(self, *args, **kwargs)

    cls.__init__ = checked_init  # type: ignore[method-assign]
    return cls


def check_number(name: str, value: Any, *, minimum: float | None = None,
                 maximum: float | None = None, above: float | None = None,
                 integer: bool = False, type_error: type[Exception] = TypeError,
                 range_error: type[Exception] = ValueError) -> None:
    """Raise unless ``value`` is a number (an int with ``integer``; never a bool or NaN)
    with ``minimum <= value <= maximum`` and ``value > above`` where given.

    The message reads e.g. "num_replicas must be an int >= 1, got 0".
    """
    kind = "an int" if integer else "a number"
    bounds = [f">= {_plain(minimum)}" if minimum is not None else "",
              f"> {_plain(above)}" if above is not None else "",
              f"<= {_plain(maximum)}" if maximum is not None else ""]
    wanted = " ".join([kind, " and ".join(b for b in bounds if b)]).strip()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (integer and not isinstance(value, int)) or math.isnan(value):
        raise type_error(f"{name} must be {wanted}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (above is not None and value <= above):
        raise range_error(f"{name} must be {wanted}, got {value!r}")


def _plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def check_choice(name: str, value: Any, choices: Iterable[Any],
                 error: type[Exception] = ValueError) -> None:
    """Raise ``error`` unless ``value`` is one of ``choices`` (with "did you mean")."""
    choices = list(choices)
    if value in choices:
        return
    guess = closest(value, [str(c) for c in choices]) if isinstance(value, str) else None
    hint = f" (did you mean {guess!r}?)" if guess else ""
    raise error(f"{name} must be one of {', '.join(map(repr, choices))}, "
                f"got {value!r}{hint}")
