"""``python -m ember`` / the ``ember`` command.

Each subcommand registers itself with ``add_parser(subparsers)`` and sets
``func`` to the function that runs it; add new ones (``timeline``, ``doctor``, ...)
to ``_SUBCOMMANDS`` the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    from ember import _serve_cli

    _serve_cli.add_parser(subparsers)


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_serve]


def build_parser() -> argparse.ArgumentParser:
    import ember

    parser = argparse.ArgumentParser(prog="ember", description="Ember command-line tool")
    parser.add_argument("--version", action="version", version=f"ember {ember.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
