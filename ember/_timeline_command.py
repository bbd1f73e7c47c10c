"""``ember timeline``: export the task trace the last session left when it shut down."""

from __future__ import annotations

import collections
import json
from typing import Any

from ember.core import _last_trace


def export(output: str) -> tuple[int, str]:
    """Write the last session's trace to ``output``; (exit code, message)."""
    trace = _last_trace.load()
    if trace is None:
        return 1, ("no trace yet: run a program that uses ember; its session saves the trace "
                   f"when it shuts down (looked in {_last_trace.path()})")
    events: list[dict[str, Any]] = trace["events"]
    with open(output, "w", encoding="utf-8") as out:
        json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, out)
    start = min(e["ts"] for e in events)
    end = max(e["ts"] + e.get("dur", 0) for e in events)
    busy: collections.Counter[str] = collections.Counter()
    for event in events:
        busy[event["name"]] += event.get("dur", 0)
    top = ", ".join(f"{name} {micros / 1e6:.3g} s" for name, micros in busy.most_common(5))
    return 0, (f"wrote {len(events)} task events ({trace['backend']} backend, spanning "
               f"{(end - start) / 1e6:.3g} s) to {output}; open it in chrome://tracing or "
               f"https://ui.perfetto.dev\nbusiest: {top}")
