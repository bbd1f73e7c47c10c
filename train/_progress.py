"""A compact table of rank 0's reports, one row per report, printed as they arrive:

    report   time  epoch  loss     accuracy
         1   2.1s      0  0.4512   0.8812
         2   3.9s      1  0.2231   0.9345
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

_MAX_COLUMNS = 8


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:12]


class ProgressTable:
    def __init__(self, enabled: bool, out: TextIO | None = None):
        self.enabled = enabled
        self.out = out or sys.stdout
        self.started = time.monotonic()
        self.columns: list[str] | None = None
        self.rows = 0

    def row(self, metrics: dict[str, Any]) -> None:
        self.rows += 1
        if not self.enabled:
            return
        if self.columns is None:
            scalars = [k for k, v in metrics.items() if isinstance(v, (int, float, str))]
            self.columns = scalars[:_MAX_COLUMNS]
            header = ["report", "time", *self.columns]
            self.widths = [max(11, len(name) + 2) for name in header]
            print("".join(n.rjust(w) for n, w in zip(header, self.widths)), file=self.out)
        cells = [str(self.rows), f"{time.monotonic() - self.started:.1f}s",
                 *(_cell(metrics.get(name, "")) for name in self.columns)]
        print("".join(c.rjust(w) for c, w in zip(cells, self.widths)), file=self.out, flush=True)
