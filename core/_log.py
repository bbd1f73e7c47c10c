"""Ember's own messages: one logger, ``ember``, quiet by default (warnings and errors).

``ember.init(logging_level="INFO")`` or ``EMBER_LOGGING_LEVEL=INFO`` shows more. Records
go to whatever ``sys.stderr`` is when they are written (a notebook cell, a pipe).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from ._env import logging_level

logger = logging.getLogger("ember")


class _CurrentStderr(logging.StreamHandler[TextIO]):
    """A handler bound to ``sys.stderr`` as it is at each record, not at creation."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("ember %(levelname)s: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def check_level(level: int | str | None, argument: str = "logging_level") -> int | None:
    """The numeric level for ``level`` (a name such as "INFO", or a number)."""
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, (int, str)):
        raise TypeError(f"{argument} must be a level name such as 'INFO' or a number, "
                        f"got {level!r}")
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):  # getLevelName's "Level X": an unknown name
            raise ValueError(  # noqa: TRY004 - a bad value, not a bad type
                f"{argument}={level!r} is not a logging level; use DEBUG, INFO, WARNING, "
                "ERROR or CRITICAL")
        return number
    return level


def configure(level: int | str | None) -> None:
    """Set the verbosity of Ember's messages (init's argument, else the environment)."""
    number = check_level(level) or check_level(logging_level(), "EMBER_LOGGING_LEVEL") \
        or logging.WARNING
    if not any(isinstance(h, _CurrentStderr) for h in logger.handlers):
        logger.addHandler(_CurrentStderr())
        logger.propagate = False
    logger.setLevel(number)
