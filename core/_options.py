"""Typed, validated options for tasks and for ``init``.

``f.options(**overrides)`` is ``dataclasses.replace`` plus a check that names the
valid keys, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _check_amount(name: str, value: Any, *, allow_zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        fix = "a positive number" if not allow_zero else "zero or a positive number"
        raise ValueError(f"{name} must be {fix}, got {value!r}")


def check_resources(name: str, resources: Mapping[str, float] | None) -> dict[str, float]:
    """Validate a custom-resource mapping such as ``{"accelerator": 1}``."""
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise TypeError(f"{name} must be a dict of resource name -> amount, got {resources!r}")
    for key, amount in resources.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{name} keys must be non-empty strings, got {key!r}")
        if key in ("CPU", "GPU"):
            raise ValueError(
                f"{name} must not contain {key!r}; use num_{key.lower()}s= instead")
        _check_amount(f"{name}[{key!r}]", amount)
    return dict(resources)


def replace_checked(options: Any, what: str, overrides: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` that rejects unknown keys with the list of valid ones."""
    valid = [f.name for f in dataclasses.fields(options) if not f.name.startswith("_")]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for {what}; "
            f"valid options are: {', '.join(valid)}")
    return dataclasses.replace(options, **overrides)


@dataclass(frozen=True)
class TaskOptions:
    """How a remote function is scheduled and retried."""

    num_cpus: float = 1
    """CPUs reserved while the task runs (released while it blocks in ``get``)."""
    num_gpus: float = 0
    """GPUs reserved; the worker's ``CUDA_VISIBLE_DEVICES`` lists the assigned ids."""
    resources: Mapping[str, float] = field(default_factory=dict)
    """Custom resources, e.g. ``{"accelerator": 1}``."""
    max_retries: int = 3
    """Re-runs after the worker process dies; -1 retries forever."""
    retry_exceptions: bool | tuple[type[BaseException], ...] = False
    """Also retry when the task raises (True, or only these exception types)."""
    num_returns: int = 1
    """How many ObjectRefs ``.remote()`` returns; the function returns that many values."""
    name: str | None = None
    """Name shown in errors and the timeline (defaults to the function's name)."""

    def __post_init__(self) -> None:
        _check_amount("num_cpus", self.num_cpus)
        _check_amount("num_gpus", self.num_gpus)
        object.__setattr__(self, "resources", check_resources("resources", self.resources))
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) \
                or self.max_retries < -1:
            raise ValueError(
                f"max_retries must be an int >= -1 (-1 retries forever), got {self.max_retries!r}")
        retry = self.retry_exceptions
        if isinstance(retry, list):
            retry = tuple(retry)
            object.__setattr__(self, "retry_exceptions", retry)
        if not isinstance(retry, bool) and not (
                isinstance(retry, tuple)
                and all(isinstance(t, type) and issubclass(t, BaseException) for t in retry)):
            raise TypeError(
                "retry_exceptions must be True/False or a list of exception classes, "
                f"got {retry!r}")
        if isinstance(self.num_returns, bool) or not isinstance(self.num_returns, int) \
                or self.num_returns < 0:
            raise ValueError(
                f"num_returns must be an int >= 0, got {self.num_returns!r}")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {self.name!r}")

    def resource_demand(self) -> dict[str, float]:
        """The resources this task holds while it runs, as one dict (do not mutate)."""
        demand = self.__dict__.get("_demand")
        if demand is None:
            demand = {"CPU": float(self.num_cpus)} if self.num_cpus else {}
            if self.num_gpus:
                demand["GPU"] = float(self.num_gpus)
            demand.update({k: float(v) for k, v in self.resources.items() if v})
            object.__setattr__(self, "_demand", demand)  # computed once per options
        return demand


@dataclass(frozen=True)
class InitOptions:
    """Arguments of ``ember.init``."""

    num_cpus: float | None = None
    """CPUs the scheduler hands out (default: the machine's cores)."""
    num_gpus: float | None = None
    """GPUs the scheduler hands out (default: 0 on machines without CUDA)."""
    resources: Mapping[str, float] = field(default_factory=dict)
    """Custom resources this node advertises."""
    address: str | None = None
    """A Dask scheduler address for the cluster backend (``tcp://host:8786``)."""
    backend: str | None = None
    """"local" (default) or "dask"."""
    object_store_memory: int | None = None
    """Bytes of shared memory for objects before spilling to disk (default 30% of RAM)."""
    local_mode: bool = False
    """Run every task serially in the calling process, for debugging with pdb."""

    def __post_init__(self) -> None:
        if self.num_cpus is not None:
            _check_amount("num_cpus", self.num_cpus, allow_zero=True)
        if self.num_gpus is not None:
            _check_amount("num_gpus", self.num_gpus)
        object.__setattr__(self, "resources", check_resources("resources", self.resources))
        if self.backend not in (None, "local", "dask"):
            raise ValueError(f"backend must be 'local' or 'dask', got {self.backend!r}")
        if self.address is not None and not isinstance(self.address, str):
            raise TypeError(f"address must be a string like 'tcp://host:8786', got {self.address!r}")
        if self.object_store_memory is not None:
            if isinstance(self.object_store_memory, bool) or not isinstance(
                    self.object_store_memory, int) or self.object_store_memory < 1 << 20:
                raise ValueError(
                    "object_store_memory must be an int number of bytes >= 1 MiB, got "
                    f"{self.object_store_memory!r}")
        if not isinstance(self.local_mode, bool):
            raise TypeError(f"local_mode must be True or False, got {self.local_mode!r}")
