"""Shared plumbing for Ember's benchmarks: figure lines, the Ray venv, and the ember-vs-ray table.

Every benchmark script (core, and later data, train, serve) prints its results as
*figure lines* on stdout, one per line::

    name value unit          e.g.  tasks_sync 12345.6 per_s

so a parent process can run a script as a child and read the figures back with
:func:`parse_figures`. ``--compare ray`` runs the same script a second time with
``--engine ray`` under a separate virtualenv (``benchmarks/.venv-ray``, git-ignored,
created on demand by :func:`ensure_ray_venv`) and prints a table from
:func:`format_table`. Ray is never a dependency of the project: it exists only in
that venv.

This module uses the standard library only, because it is imported both by the
project's interpreter and by the Ray venv's interpreter.

Which way is "better" is decided by the unit (see :func:`higher_is_better`), so
scripts must pick units from the conventions below:

========================  =========================================  ==========
unit                      meaning                                    better
========================  =========================================  ==========
``per_s``, ``*_per_s``    a rate (tasks/s, ops/s, rows/s, ...)       higher
``gb_per_s``              throughput in 1e9 bytes per second         higher
``x``                     a dimensionless "times as fast" ratio      higher
``s``, ``ms``, ``us``     a duration                                 lower
``us_per_*``              CPU or wall time per operation             lower
``mb``                    memory, in 2**20 bytes                     lower
``count``                 how many of something (e.g. processes)     lower
========================  =========================================  ==========
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RAY_VENV = BENCH_DIR / ".venv-ray"
RAY_VERSION = "2.60.0"
#: What every Ray comparison needs; library benchmarks add their own extras
#: (e.g. ``"ray[data]==2.60.0"``, ``"pandas"``) through ``ray_packages``.
RAY_BASE_PACKAGES: tuple[str, ...] = (f"ray=={RAY_VERSION}", "numpy", "psutil")
#: The interpreter the Ray venv is built from (Ray 2.60 ships wheels for it).
VENV_PYTHON = "python3.11"
#: Records which requirement strings have been installed into the Ray venv, so a later
#: benchmark that needs more packages installs only when its set is not yet covered.
_STAMP_NAME = ".ember-bench-installed"
#: Environment for every Ray run: no usage-stats reporting (there is no network here,
#: and it would be a side effect of a benchmark anyway).
RAY_ENV: dict[str, str] = {"RAY_USAGE_STATS_ENABLED": "0"}

_HIGHER_IS_BETTER_UNITS = frozenset({"per_s", "gb_per_s", "x"})
_FIGURE_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) ([-+0-9.eE]+|nan|inf) (\S+)$")


class Figure(NamedTuple):
    """One measured number: ``name value unit``."""

    name: str
    value: float
    unit: str

    def line(self) -> str:
        """The figure as the single stdout line that :func:`parse_figures` reads back."""
        return f"{self.name} {format_value(self.value)} {self.unit}"


def format_value(value: float) -> str:
    """Enough digits to be useful, never exponent noise for everyday magnitudes."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"


def emit(name: str, value: float, unit: str, out: TextIO | None = None) -> Figure:
    """Print one figure line right away (flushed, so a parent sees progress) and return it."""
    figure = Figure(name, float(value), unit)
    print(figure.line(), file=out or sys.stdout, flush=True)
    return figure


def parse_figures(lines: Iterable[str]) -> dict[str, Figure]:
    """Read figure lines back into a dict keyed by name; any other line is ignored.

    Engines may print their own chatter to stdout, so only lines that match the
    ``name number unit`` shape exactly are taken. A repeated name keeps the last value.
    """
    figures: dict[str, Figure] = {}
    for raw in lines:
        match = _FIGURE_LINE.match(raw.strip())
        if match:
            name, value, unit = match.groups()
            figures[name] = Figure(name, float(value), unit)
    return figures


def higher_is_better(unit: str) -> bool:
    """Whether a larger value is better, judged from the unit (see the module docstring)."""
    return unit in _HIGHER_IS_BETTER_UNITS or unit.endswith("_per_s")


def ember_advantage(ember: Figure, ray: Figure) -> float:
    """Ratio oriented so that > 1 means ember is better: ember/ray for rates, ray/ember otherwise."""
    numerator, denominator = (ember.value, ray.value) if higher_is_better(ember.unit) else (ray.value, ember.value)
    if denominator == 0:
        return math.inf if numerator > 0 else math.nan
    return numerator / denominator


def format_table(ember: Mapping[str, Figure], ray: Mapping[str, Figure]) -> str:
    """A plain-text table, one row per figure, in ember's order then any Ray-only names."""
    names = list(ember) + [name for name in ray if name not in ember]
    header = ("figure", "ember", "ray", "unit", "ratio")
    rows: list[tuple[str, ...]] = []
    for name in names:
        e, r = ember.get(name), ray.get(name)
        unit = (e or r).unit  # type: ignore[union-attr]
        ratio = f"{ember_advantage(e, r):.2f}" if e and r else "-"
        rows.append((name, format_value(e.value) if e else "-", format_value(r.value) if r else "-", unit, ratio))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        left = row[0].ljust(widths[0])
        return "  ".join([left, *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:]))])

    lines = [
        "ember vs ray: ratio > 1 means ember is better (ember/ray for rates, ray/ember for times, memory, counts)",
        fmt(header),
        fmt(["-" * w for w in widths]),
        *(fmt(row) for row in rows),
    ]
    return "\n".join(lines)


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_ray_venv(packages: Sequence[str] = RAY_BASE_PACKAGES, venv: Path = RAY_VENV) -> Path:
    """Create ``venv`` (if missing) and install ``packages`` (if not yet installed); return its python.

    Installs go through pip with the repo's ``constraints.txt`` (the project's rule for every
    install: it pins torch to the CPU wheel this machine ships). Progress goes to stderr.
    """
    python = _venv_python(venv)
    if not python.exists():
        base = shutil.which(VENV_PYTHON)
        if base is None:
            raise RuntimeError(f"{VENV_PYTHON} not found on PATH; it is needed to build {venv}")
        print(f"[compare] creating {venv} with {base}", file=sys.stderr, flush=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    stamp = venv / _STAMP_NAME
    installed = set(stamp.read_text().split()) if stamp.exists() else set()
    wanted = [*RAY_BASE_PACKAGES, *(p for p in packages if p not in RAY_BASE_PACKAGES)]
    if not set(wanted) <= installed:
        constraints = REPO_ROOT / "constraints.txt"
        cmd = [str(python), "-m", "pip", "install", "--quiet", *wanted]
        if constraints.exists():
            cmd[4:4] = ["-c", str(constraints)]
        print(f"[compare] installing into {venv}: {' '.join(wanted)}", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True)
        stamp.write_text("\n".join(sorted(installed | set(wanted))) + "\n")
    return python


def run_child(
    python: Path | str,
    script: Path | str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3600.0,
    label: str = "child",
) -> dict[str, Figure]:
    """Run ``python script *args``, echo its figure lines as they come, and return them parsed.

    The child's stderr (engine logs, warnings) goes to a temporary file and is shown only
    (its tail) if the child fails, so the table is not buried in Ray's startup chatter.
    """
    cmd = [str(python), str(script), *args]
    child_env = {**os.environ, **(env or {})}
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=child_env, cwd=REPO_ROOT)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                print(f"[{label}] {line}", end="", flush=True)
            proc.wait(timeout=timeout_s)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-4000:]
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}; stderr tail:\n{tail}")
    return parse_figures(lines)


def run_compare(
    script: Path | str,
    ember_figures: Mapping[str, Figure],
    child_args: Sequence[str] = (),
    ray_packages: Sequence[str] = RAY_BASE_PACKAGES,
) -> dict[str, Figure]:
    """Run ``script --engine ray *child_args`` in the Ray venv and print the ember-vs-ray table.

    ``ember_figures`` are the figures the caller already measured on ember (in-process or
    however it likes); ``child_args`` should carry the same selection options (e.g.
    ``--only``) so both sides measure the same things. Returns the Ray figures.
    """
    python = ensure_ray_venv(ray_packages)
    ray_figures = run_child(python, script, ["--engine", "ray", *child_args], env=RAY_ENV, label="ray")
    print()
    print(format_table(ember_figures, ray_figures), flush=True)
    return ray_figures
