"""The README's Python code blocks, by section, so tests can run them as written."""

from __future__ import annotations

import os
import re

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "README.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def sections() -> dict[str, list[str]]:
    """``## Heading`` -> the python blocks under it (and its ``###`` subsections)."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = part.partition("\n")
        found[heading.strip()] = [m.group(1) for m in _BLOCK.finditer(body)]
    return found


def blocks(heading_start: str) -> list[str]:
    """The python blocks of the section whose heading starts with ``heading_start``."""
    matches = [blocks for heading, blocks in sections().items()
               if heading.startswith(heading_start)]
    if len(matches) != 1:
        raise LookupError(f"README has {len(matches)} sections starting {heading_start!r}")
    return matches[0]
