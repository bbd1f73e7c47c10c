"""``python -m ember`` / the ``ember`` command.

Each subcommand registers itself with ``add_parser(subparsers)`` and sets
``func`` to the function that runs it; add new ones (``timeline``, ``doctor``, ...)
to ``_SUBCOMMANDS`` the same way.

Conventions: a bare command prints its help and exits 2 (a usage error, as argparse
does); a failure is one line on stderr, ``ember <command>: <what went wrong>; <fix>``,
with exit code 1 (``CommandError``, or any other exception: its traceback only with
``EMBER_LOGGING_LEVEL=DEBUG``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ember._command_error import CommandError


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    from ember import _serve_cli

    _serve_cli.add_parser(subparsers)


def _add_timeline(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "timeline", help="export the task trace of the last session (Chrome trace JSON)")
    command.add_argument("-o", "--output", default="ember-timeline.json",
                         help="where to write it (ember-timeline.json)")

    def run(args: argparse.Namespace) -> int:
        from ember import _timeline_command

        try:
            code, message = _timeline_command.export(args.output)
        except OSError as error:
            raise CommandError(
                f"cannot write {args.output!r}: {error.strerror}; pass a writable path with "
                "-o/--output") from error
        if code:
            raise CommandError(message)
        print(message)
        return 0

    command.set_defaults(func=run)


def _add_doctor(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "doctor", help="check versions, backends and limits, with the fix for each problem")
    command.add_argument("--address", help="also check this Dask cluster (tcp://host:8786)")

    def run(args: argparse.Namespace) -> int:
        from ember import _doctor

        return _doctor.run(args.address)

    command.set_defaults(func=run)


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_serve, _add_timeline, _add_doctor]


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
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line, never a traceback: see the module docstring
        import os

        if (os.environ.get("EMBER_LOGGING_LEVEL") or "").upper() == "DEBUG":
            raise
        command = " ".join(a for a in (argv if argv is not None else sys.argv[1:])[:2]
                           if not a.startswith("-"))
        text = str(error) if isinstance(error, CommandError) else \
            f"{type(error).__name__}: {error} (EMBER_LOGGING_LEVEL=DEBUG shows the traceback)"
        print(f"ember {command}: {text}".replace("\n", " "), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
