"""``python -m ember`` / the ``ember`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    import ember

    parser = argparse.ArgumentParser(prog="ember", description="Ember command-line tool")
    parser.add_argument("--version", action="version", version=f"ember {ember.__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
