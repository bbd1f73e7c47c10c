"""The public API is exactly what each package's ``__all__`` says (STYLE.md rule 2).

Adding or removing a public name is a deliberate act: update the expected list here in
the same change.
"""

from __future__ import annotations
import __future__

import importlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import ember.core
import pytest

import ember

EXPECTED_CORE_ALL = [
    "ActorClass",
    "ActorDiedError",
    "ActorHandle",
    "EmberContext",
    "EmberError",
    "GetTimeoutError",
    "InfeasibleResourcesError",
    "NotSupportedOnBackend",
    "ObjectLostError",
    "ObjectRef",
    "ObjectRefGenerator",
    "ObjectStoreFullError",
    "PlacementGroup",
    "PlacementGroupSchedulingStrategy",
    "RemoteFunction",
    "TaskCancelledError",
    "TaskError",
    "WorkerCrashedError",
    "available_resources",
    "cancel",
    "cluster_resources",
    "exceptions",
    "get",
    "get_actor",
    "init",
    "is_initialized",
    "kill",
    "method",
    "placement_group",
    "put",
    "remote",
    "remove_placement_group",
    "shutdown",
    "timeline",
    "wait",
]

LIBRARIES = ["data", "train", "tune", "serve", "rl"]

ERRORS = [
    "EmberError",
    "TaskError",
    "WorkerCrashedError",
    "ActorDiedError",
    "GetTimeoutError",
    "TaskCancelledError",
    "ObjectLostError",
    "ObjectStoreFullError",
    "InfeasibleResourcesError",
    "NotSupportedOnBackend",
]

PACKAGES = ["ember", "ember.core", *(f"ember.{lib}" for lib in LIBRARIES), "ember.util",
            "ember.util.queue"]

EXPECTED_UTIL_ALL = {"ember.util": ["ActorPool"], "ember.util.queue": ["Empty", "Full", "Queue"]}

# What `import ember` must never load: the libraries' heavy dependencies.
HEAVY_MODULES = ["torch", "pyarrow", "starlette", "pandas", "optuna", "gymnasium", "uvicorn"]


def _package(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_core_all_is_exactly_the_expected_list() -> None:
    assert sorted(ember.core.__all__) == sorted(EXPECTED_CORE_ALL)
    assert len(set(ember.core.__all__)) == len(ember.core.__all__), "duplicate names"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_exists(package: str) -> None:
    module = _package(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not define: {missing}"


@pytest.mark.parametrize("package", [
    "ember",
    *PACKAGES[1:],
])
def test_package_has_no_public_names_outside_all(package: str) -> None:
    """Everything public in the namespace is in ``__all__`` (submodules aside)."""
    module = _package(package)
    extra = sorted(
        name for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in module.__all__
        and not isinstance(value, type(__future__.annotations))  # `from __future__ import annotations`
        and not _is_submodule(value, package))
    assert not extra, (
        f"{package} has public names missing from __all__: {extra}; add them to __all__ "
        "or import them under an underscore name")


def _is_submodule(value: object, package: str) -> bool:
    return isinstance(value, ModuleType) and value.__name__.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(EXPECTED_UTIL_ALL))
def test_util_all_is_exactly_rays_names(package: str) -> None:
    assert sorted(_package(package).__all__) == EXPECTED_UTIL_ALL[package]


def test_ember_all_is_core_all_plus_libraries_and_version() -> None:
    expected = [*EXPECTED_CORE_ALL, *LIBRARIES, "__version__"]
    assert sorted(ember.__all__) == sorted(expected)
    assert len(set(ember.__all__)) == len(ember.__all__), "duplicate names"


@pytest.mark.parametrize("name", EXPECTED_CORE_ALL)
def test_ember_reexports_core_name_as_the_same_object(name: str) -> None:
    ours, core = getattr(ember, name), getattr(ember.core, name)
    if isinstance(core, ModuleType):
        # `ember.exceptions` may be the thin alias module ember/exceptions.py: it must
        # expose the very same objects.
        assert ours.__all__ == core.__all__
        assert all(getattr(ours, item) is getattr(core, item) for item in core.__all__)
    else:
        assert ours is core


@pytest.mark.parametrize("library", LIBRARIES)
def test_ember_library_attribute_is_the_subpackage(library: str) -> None:
    assert getattr(ember, library) is importlib.import_module(f"ember.{library}")


def test_ember_version_matches_installed_metadata() -> None:
    assert isinstance(ember.__version__, str)
    assert ember.__version__ == importlib.metadata.version("ember")


def test_unknown_ember_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        ember.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", ERRORS)
def test_error_is_importable_from_ember_exceptions_and_ember(name: str) -> None:
    exceptions = importlib.import_module("ember.exceptions")
    error = getattr(exceptions, name)
    assert name in exceptions.__all__
    assert isinstance(error, type) and issubclass(error, ember.EmberError)
    assert error is getattr(ember, name)
    assert error is getattr(ember.exceptions, name)
    assert error is getattr(ember.core.exceptions, name)


def test_exceptions_module_lists_exactly_the_documented_errors() -> None:
    exceptions = importlib.import_module("ember.exceptions")
    assert sorted(exceptions.__all__) == sorted(ERRORS)


def test_object_ref_has_no_public_constructor() -> None:
    # pytest turns the unraisable exception of a noisy __del__ into a failure here.
    with pytest.raises(TypeError, match="no public constructor"):
        ember.ObjectRef()


@pytest.mark.parametrize("library", LIBRARIES)
def test_library_declares_all(library: str) -> None:
    module = importlib.import_module(f"ember.{library}")
    assert isinstance(module.__all__, list)
    assert all(isinstance(name, str) for name in module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_are_not_leaked_from_other_packages_private_modules(package: str) -> None:
    """A public object is defined in the package itself (often in one of its underscore
    modules) or is another package's *public* export under the same name (``ember``
    re-exports ``ember.core``; ``ember.tune`` re-exports train's ``RunConfig``)."""
    module = _package(package)
    problems = []
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, ModuleType):
            if any(part.startswith("_") for part in value.__name__.split(".")):
                problems.append(f"{name} is the private module {value.__name__}")
            continue
        owner = getattr(value, "__module__", None)
        if not isinstance(owner, str) or not owner.startswith("ember."):
            continue
        if getattr(value, "__name__", name) != name:
            problems.append(f"{name} is exported under another name ({value.__name__})")
        owner_package = ".".join(owner.split(".")[:2])
        if owner == package or owner_package == package or owner.startswith(package + "."):
            continue
        home = importlib.import_module(owner_package)
        if name not in getattr(home, "__all__", []) or getattr(home, name) is not value:
            problems.append(f"{name} comes from {owner}, which {owner_package} does not export")
    assert not problems, f"{package}: " + "; ".join(problems)


def test_import_ember_does_not_import_heavy_libraries(tmp_path: Path) -> None:
    """Run in a fresh interpreter from an unrelated directory, as a user would."""
    code = "import json, sys, ember; print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout)
    assert "ember.core" in loaded
    heavy = sorted({name.split(".")[0] for name in loaded} & set(HEAVY_MODULES))
    assert not heavy, f"`import ember` imported {heavy}; import them inside the library that needs them"
