"""The wheel installs one import name, ``ember``, and declares the documented extras.

The folders core/, data/, ... are mapped to ``ember.core``, ``ember.data``, ... by
pyproject's package-dir; a mistake there would put a top-level ``core`` package on every
user's ``sys.path``. The wheel is built from a clean copy of the checkout so stale
``build/`` folders cannot hide (or add) files.
"""

from __future__ import annotations

import email.message
import email.parser
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ["core", "data", "train", "tune", "serve", "rl"]
EXTRAS = ["data", "train", "tune", "serve", "rl", "dask", "all", "test"]
NOT_TOP_LEVEL = [*LIBRARIES, "tests", "examples", "benchmarks"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    import setuptools

    # setuptools >= 70.1 builds wheels by itself (no `wheel` package needed).
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    assert (major, minor) >= (70, 1), (
        f"setuptools {setuptools.__version__} in this venv cannot build the wheel without "
        "build isolation; install setuptools>=70.1 (it belongs in the `test` extra)")
    source = tmp_path_factory.mktemp("source") / "ember"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"))
    out = tmp_path_factory.mktemp("wheel")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-input", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (path,) = out.glob("ember-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if re.fullmatch(r"ember-[^/]+\.dist-info/METADATA", n)]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_wheel_holds_only_the_ember_package_and_its_metadata(wheel: zipfile.ZipFile) -> None:
    top_level = {name.split("/")[0] for name in wheel.namelist()}
    unexpected = sorted(entry for entry in top_level
                        if entry != "ember" and not entry.endswith(".dist-info"))
    assert not unexpected, f"the wheel installs more than `ember`: {unexpected}"
    assert not top_level & set(NOT_TOP_LEVEL)


@pytest.mark.parametrize("package", LIBRARIES)
def test_wheel_holds_each_subpackage_inside_ember(wheel: zipfile.ZipFile, package: str) -> None:
    assert f"ember/{package}/__init__.py" in wheel.namelist()


def test_wheel_holds_the_core_implementation_modules(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    expected = {f"ember/core/{path.name}" for path in (REPO / "core").glob("*.py")}
    assert expected <= set(names), sorted(expected - set(names))
    assert "ember/__init__.py" in names and "ember/exceptions.py" in names


def test_wheel_declares_every_documented_extra(wheel: zipfile.ZipFile) -> None:
    extras = _metadata(wheel).get_all("Provides-Extra") or []
    assert sorted(set(EXTRAS) - set(extras)) == []


def test_wheel_pins_torch_wherever_it_is_required(wheel: zipfile.ZipFile) -> None:
    requirements = _metadata(wheel).get_all("Requires-Dist") or []
    torch = [req for req in requirements if re.match(r"torch\b", req)]
    assert torch, "no extra requires torch"
    unpinned = [req for req in torch if not re.match(r"torch\s*==\s*2\.13\.0(\s*;|$)", req)]
    assert not unpinned, f"torch must be pinned to 2.13.0 in every requirement: {unpinned}"
