"""The import graph is a test (STYLE.md rule 3, DESIGN.md "Dependency rule").

Every module under the package folders is parsed with ``ast`` (nothing is imported), so
a violation is caught even in code no test runs:

- a library imports only ``ember``'s public API and its own modules: never
  ``ember.core._private``, never another library's private module, and only the
  libraries DESIGN.md lets it depend on;
- the core never imports a library;
- ``import ember`` does not load torch, pyarrow, starlette, ... at import time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Source folder -> the package it is installed as (pyproject's package-dir).
FOLDERS = {
    "ember": "ember",
    "core": "ember.core",
    "data": "ember.data",
    "train": "ember.train",
    "tune": "ember.tune",
    "serve": "ember.serve",
    "rl": "ember.rl",
}
LIBRARIES = {"data", "train", "tune", "serve", "rl"}

# Which other libraries a library may import (always through their public API).
ALLOWED_LIBRARIES = {
    "data": set(),
    "train": {"data"},
    "tune": {"train"},
    "serve": set(),
    "rl": {"tune"},
}

# Never imported, directly or through the project's own modules, by `import ember`.
HEAVY = {"torch", "pyarrow", "starlette", "pandas", "optuna", "gymnasium", "uvicorn"}

# The public entry points a user imports.
ROOTS = ["ember", "ember.core", "ember.exceptions"]


@dataclass(frozen=True)
class Import:
    """One imported name: ``module`` is absolute, ``names`` are a from-import's names."""

    path: str
    line: int
    module: str
    names: tuple[str, ...]
    at_import_time: bool  # False inside a function body or an `if TYPE_CHECKING:` block
    type_only: bool = False  # inside an `if TYPE_CHECKING:` block: names types, runs nothing

    def targets(self) -> list[str]:
        """The module and every ``module.name`` that may itself be a submodule."""
        return [self.module, *(f"{self.module}.{name}" for name in self.names if name != "*")]


def parse_imports(source: str, module: str, is_package: bool, path: str) -> list[Import]:
    """Every import statement in ``source``, relative ones made absolute."""
    found: list[Import] = []

    def visit(node: ast.AST, at_import_time: bool, type_only: bool = False) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(path, node.lineno, alias.name, (), at_import_time,
                                    type_only))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            names = tuple(alias.name for alias in node.names)
            found.append(Import(path, node.lineno, base, names, at_import_time, type_only))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            at_import_time = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False, True)
            for child in node.orelse:
                visit(child, at_import_time, type_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, at_import_time, type_only)

    visit(ast.parse(source, filename=path), True)
    return found


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(parts):
        raise ValueError(f"relative import beyond the top-level package in {module}")
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, target] if target else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def layering_violations(folder: str, imports: list[Import]) -> list[str]:
    """What a module in ``folder`` imports that the dependency rule forbids."""
    problems = []
    for imp in imports:
        for target in imp.targets():
            problem = _forbidden(folder, target)
            if problem:
                problems.append(f"{imp.path}:{imp.line} imports {target}: {problem}")
                break  # one message per statement: `from ember.core._x import a, b`
    return problems


def _forbidden(folder: str, target: str) -> str | None:
    parts = target.split(".")
    if parts[0] != "ember" or len(parts) < 2:
        return None
    package = parts[1]
    if folder == "core":
        if package in LIBRARIES:
            return "the core must not depend on a library"
        return None
    if folder not in LIBRARIES or package == folder:
        return None
    if any(_is_private(part) for part in parts[1:]):
        return f"a private module; {folder} may use only ember's public API (import ember)"
    if package in LIBRARIES and package not in ALLOWED_LIBRARIES[folder]:
        allowed = "".join(f" and {lib}" for lib in sorted(ALLOWED_LIBRARIES[folder]))
        return f"{folder} may depend on the core{allowed} only (DESIGN.md dependency rule)"
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def heavy_imports_at_import_time(graph: dict[str, list[Import]], roots: list[str]) -> list[str]:
    """Walk the project's import-time imports from ``roots``; name each heavy import reached,
    with the chain of modules that leads to it."""
    chain: dict[str, str] = {root: root for root in roots if root in graph}
    queue = list(chain)
    problems = []
    while queue:
        module = queue.pop(0)
        for imp in graph[module]:
            if not imp.at_import_time:
                continue
            for target in imp.targets():
                top = target.split(".")[0]
                if top in HEAVY:
                    problems.append(f"{chain[module]} -> {imp.path}:{imp.line} imports {target}")
                elif top == "ember":
                    for reached in _modules_run_by_importing(target, graph):
                        if reached not in chain:
                            chain[reached] = f"{chain[module]} -> {reached}"
                            queue.append(reached)
    return problems


def _modules_run_by_importing(target: str, graph: dict[str, list[Import]]) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c`` (those that are modules)."""
    parts = target.split(".")
    return [name for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if name in graph]


def project_sources(root: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is_package) for every .py file in the package folders."""
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules[".".join([package, *parts])] = (path, is_package)
    return modules


def project_graph(root: Path) -> dict[str, list[Import]]:
    return {
        module: parse_imports(path.read_text(), module, is_package, str(path.relative_to(root)))
        for module, (path, is_package) in project_sources(root).items()
    }


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return project_graph(REPO)


def test_every_package_folder_is_scanned(graph: dict[str, list[Import]]) -> None:
    for package in FOLDERS.values():
        assert package in graph, f"{package} has no __init__.py under {REPO}"
    assert "ember.core._api" in graph


@pytest.mark.parametrize("folder", ["core", *sorted(LIBRARIES)])
def test_package_respects_the_dependency_rule(folder: str, graph: dict[str, list[Import]]) -> None:
    package = FOLDERS[folder]
    problems = [
        problem
        for module, imports in graph.items()
        if module == package or module.startswith(package + ".")
        for problem in layering_violations(folder, imports)
    ]
    assert not problems, "\n".join(problems)


def test_import_ember_loads_no_heavy_dependency(graph: dict[str, list[Import]]) -> None:
    problems = heavy_imports_at_import_time(graph, ROOTS)
    assert not problems, (
        "`import ember` would import a heavy dependency; move the import into the function "
        "that needs it:\n" + "\n".join(problems))


def test_import_walker_follows_the_real_import_chain(graph: dict[str, list[Import]]) -> None:
    # The walker itself, on the real sources: a heavy import planted in a module that
    # `import ember` runs is found, with the chain that reaches it.
    planted = Import("core/_api.py", 1, "torch", (), True)
    patched = {**graph, "ember.core._api": [*graph["ember.core._api"], planted]}
    assert heavy_imports_at_import_time(patched, ["ember"]) == [
        "ember -> ember.core -> ember.core._api -> core/_api.py:1 imports torch"
    ]


SYNTHETIC_LIBRARY_MODULE = """
from typing import TYPE_CHECKING

import ember
from ember import data, __version__         # allowed: train may use data
from ember.core._object_store import Store  # private core module
from ember.core import _scheduler           # private core module, the other spelling
from ember.tune import Tuner                # train may not depend on tune
from ember.data._blocks import Block        # another library's private module
from . import _loop                         # its own private module: fine
from .._worker import run                   # relative, resolves to ember._worker

if TYPE_CHECKING:
    import pyarrow                           # not run at import time

import torch                                 # run at import time


def fit():
    import pandas                            # inside a function: lazy, fine
"""


def test_checker_reports_each_violation_with_file_and_line() -> None:
    imports = parse_imports(SYNTHETIC_LIBRARY_MODULE, "ember.train._trainer", False,
                            "train/_trainer.py")
    problems = layering_violations("train", imports)
    assert [problem.split(": ")[0] for problem in problems] == [
        "train/_trainer.py:6 imports ember.core._object_store",
        "train/_trainer.py:7 imports ember.core._scheduler",
        "train/_trainer.py:8 imports ember.tune",
        "train/_trainer.py:9 imports ember.data._blocks",
        "train/_trainer.py:11 imports ember._worker",
    ]
    assert "DESIGN.md dependency rule" in problems[2]


def test_checker_reports_heavy_import_reached_from_ember() -> None:
    graph = {
        "ember": parse_imports("from ember.core import *\n", "ember", True, "ember/__init__.py"),
        "ember.core": parse_imports("from ._api import get\n", "ember.core", True,
                                    "core/__init__.py"),
        "ember.core._api": parse_imports(SYNTHETIC_LIBRARY_MODULE, "ember.core._api", False,
                                         "core/_api.py"),
    }
    assert heavy_imports_at_import_time(graph, ["ember"]) == [
        "ember -> ember.core -> ember.core._api -> core/_api.py:16 imports torch"
    ]


def test_core_importing_a_library_is_reported() -> None:
    imports = parse_imports("from ember.data import Dataset\n", "ember.core._x", False,
                            "core/_x.py")
    assert layering_violations("core", imports) == [
        "core/_x.py:1 imports ember.data: the core must not depend on a library"
    ]


# -- the core's own structure (issue 19) ----------------------------------------------------
CORE_LAYERS = {
    "ember.core.embedded": "the embedded engine",
    "ember.core.dask": "the Dask backend",
}
"""The core's backends: each may import the core's shared modules, never another backend
nor the public API module that starts them (``ember.core._api``)."""
STARTS_BACKENDS = {"ember.core", "ember.core._api"}
"""Only these import a backend (``init`` starts one)."""
DEFERRED_CYCLE_IMPORTS = {
    ("ember.core.dask._tasks", "ember.core.dask._backend"):
        "a Dask worker's first task creates that worker's backend, which submits tasks",
}
"""Imports inside a function that close a cycle, each with its reason."""


def _real_targets(imp: Import, graph: dict[str, list[Import]]) -> list[str]:
    """The modules ``imp`` depends on: ``from pkg import mod`` is ``pkg.mod``, not ``pkg``
    (``pkg`` counts only when some imported name is not a submodule)."""
    submodules = [f"{imp.module}.{name}" for name in imp.names
                  if f"{imp.module}.{name}" in graph]
    if imp.names and len(submodules) == len(imp.names):
        return submodules
    return [imp.module, *submodules]


def _core_edges(graph: dict[str, list[Import]]) -> dict[str, set[str]]:
    """Module -> the core modules it imports (TYPE_CHECKING imports left out: they name
    types, they run nothing), except the deferred imports listed above."""
    edges: dict[str, set[str]] = {}
    for module, imports in graph.items():
        if not module.startswith("ember.core"):
            continue
        targets = set()
        for imp in imports:
            for target in _real_targets(imp, graph):
                if target in graph and target.startswith("ember.core") and target != module \
                        and (module, target) not in DEFERRED_CYCLE_IMPORTS \
                        and not imp.type_only:
                    targets.add(target)
        edges[module] = targets
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_the_core_has_no_import_cycle(graph: dict[str, list[Import]]) -> None:
    edges = _core_edges(graph)
    assert not _cycles(edges), "import cycles in core/ (break them; STYLE.md rule 3):\n" + \
        "\n".join(" -> ".join(cycle) for cycle in _cycles(edges))


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_backends_import_only_the_cores_shared_modules(graph: dict[str, list[Import]]) -> None:
    problems = []
    for module, imports in graph.items():
        layer = next((name for name in CORE_LAYERS if module.startswith(name)), None)
        for imp in imports:
            for target in _real_targets(imp, graph):
                if target not in graph or not target.startswith("ember.core"):
                    continue
                other = next((name for name in CORE_LAYERS if target.startswith(name)), None)
                if layer is None and other is not None and module not in STARTS_BACKENDS:
                    problems.append(f"{imp.path}:{imp.line}: the shared core module {module} "
                                    f"imports {CORE_LAYERS[other]} ({target})")
                elif layer is not None and other is not None and other != layer:
                    problems.append(f"{imp.path}:{imp.line}: {CORE_LAYERS[layer]} imports "
                                    f"{CORE_LAYERS[other]} ({target})")
                elif layer is not None and target in STARTS_BACKENDS:
                    problems.append(f"{imp.path}:{imp.line}: {CORE_LAYERS[layer]} imports the "
                                    f"public API module {target}")
    assert not problems, "\n".join(problems)
