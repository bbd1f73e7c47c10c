"""Typed, validated options for tasks and for ``init``.

``f.options(**overrides)`` is ``dataclasses.replace`` plus a check that names the
valid keys, so a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._log import check_level
from .validation import check_choice, check_number, replace_checked

__all__ = ["ActorOptions", "InitOptions", "PlacementGroupSchedulingStrategy", "TaskOptions",
           "check_resources", "replace_checked"]


def _check_amount(name: str, value: Any) -> None:
    check_number(name, value, minimum=0)


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
    num_returns: int | str = 1
    """How many ObjectRefs ``.remote()`` returns, or "streaming" for a generator whose
    items arrive as an iterator of ObjectRefs while it runs."""
    name: str | None = None
    """Name shown in errors and the timeline (defaults to the function's name)."""
    placement_group: Any = None
    """Run inside this placement group's reserved resources."""
    placement_group_bundle_index: int = -1
    """Which bundle of ``placement_group`` (-1: any bundle that fits)."""
    scheduling_strategy: Any = None
    """``PlacementGroupSchedulingStrategy(pg, index)``, Ray's spelling of the two above."""
    generator_backpressure_num_objects: int = 64
    """A streaming generator pauses when this many of its items are unconsumed."""

    def __post_init__(self) -> None:
        _check_amount("num_cpus", self.num_cpus)
        _check_amount("num_gpus", self.num_gpus)
        object.__setattr__(self, "resources", check_resources("resources", self.resources))
        check_placement(self)
        check_number("generator_backpressure_num_objects", self.generator_backpressure_num_objects,
                     minimum=1, integer=True, type_error=ValueError)
        check_number("max_retries (-1 retries forever)", self.max_retries, minimum=-1,
                     integer=True, type_error=ValueError)
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
        if self.num_returns != "streaming" and (
                isinstance(self.num_returns, bool) or not isinstance(self.num_returns, int)
                or self.num_returns < 0):
            raise ValueError(
                f"num_returns must be an int >= 0 or 'streaming', got {self.num_returns!r}")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {self.name!r}")

    @property
    def streaming(self) -> bool:
        return self.num_returns == "streaming"

    @property
    def return_count(self) -> int:
        """Object ids a call produces: one per return, or one end marker for a stream."""
        return 1 if self.num_returns == "streaming" else max(int(self.num_returns), 1)

    def resource_demand(self) -> dict[str, float]:
        """The resources this task holds while it runs, as one dict (do not mutate)."""
        return _cached_demand(self)


def _cached_demand(options: Any) -> dict[str, float]:
    demand: dict[str, float] | None = options.__dict__.get("_demand")
    if demand is None:
        demand = {"CPU": float(options.num_cpus)} if options.num_cpus else {}
        if options.num_gpus:
            demand["GPU"] = float(options.num_gpus)
        demand.update({k: float(v) for k, v in options.resources.items() if v})
        object.__setattr__(options, "_demand", demand)  # computed once per options
    return demand


class PlacementGroupSchedulingStrategy:
    """Ray's way to place a task or actor in a placement group's bundle.

    Same as passing ``placement_group=pg, placement_group_bundle_index=i`` in
    ``.options()``; the values are checked when the options are made.

    Example::

        pg = ember.placement_group([{"CPU": 1}])
        f.options(scheduling_strategy=ember.PlacementGroupSchedulingStrategy(pg, 0))

    Args:
        placement_group: the ``PlacementGroup`` whose reserved resources the task or
            actor draws from.
        placement_group_bundle_index: which bundle, from 0 to ``pg.bundle_count - 1``;
            -1 (the default): any bundle that fits.
    """

    def __init__(self, placement_group: Any, placement_group_bundle_index: int = -1):
        self.placement_group = placement_group
        self.placement_group_bundle_index = placement_group_bundle_index

    def __repr__(self) -> str:
        return (f"PlacementGroupSchedulingStrategy({self.placement_group!r}, "
                f"{self.placement_group_bundle_index})")


def check_placement(options: Any) -> None:
    """Fold ``scheduling_strategy`` into ``placement_group``/``..._bundle_index`` and check them."""
    strategy = options.scheduling_strategy
    if strategy is not None:
        if isinstance(strategy, PlacementGroupSchedulingStrategy):
            object.__setattr__(options, "placement_group", strategy.placement_group)
            object.__setattr__(options, "placement_group_bundle_index",
                               strategy.placement_group_bundle_index)
        elif strategy not in ("DEFAULT", "SPREAD"):
            raise ValueError(
                f"scheduling_strategy must be 'DEFAULT', 'SPREAD' or a "
                f"PlacementGroupSchedulingStrategy, got {strategy!r}")
    group, index = options.placement_group, options.placement_group_bundle_index
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"placement_group_bundle_index must be an int, got {index!r}")
    if group is None:
        if index != -1:
            raise ValueError("placement_group_bundle_index needs placement_group= as well")
        return
    from ._placement_group import PlacementGroup

    if not isinstance(group, PlacementGroup):
        raise TypeError(
            f"placement_group must come from ember.placement_group(...), got {group!r}")
    if not -1 <= index < len(group.bundle_specs):
        raise ValueError(
            f"placement_group_bundle_index={index} is out of range for a group of "
            f"{len(group.bundle_specs)} bundle(s); use 0..{len(group.bundle_specs) - 1} or -1")


@dataclass(frozen=True)
class ActorOptions:
    """How an actor is placed, restarted and run."""

    num_cpus: float = 0
    """CPUs held for the actor's whole life (Ray's default holds none)."""
    num_gpus: float = 0
    """GPUs held for the actor's life; sets ``CUDA_VISIBLE_DEVICES`` in its process."""
    resources: Mapping[str, float] = field(default_factory=dict)
    """Custom resources held for the actor's life."""
    max_restarts: int = 0
    """Times the actor's process is restarted (``__init__`` re-run) after it dies; -1: always."""
    max_task_retries: int = 0
    """Times a call in flight when the actor died is retried after a restart; -1: always."""
    max_concurrency: int | None = None
    """Calls running at once: 1 for plain actors (in order), 1000 for async actors."""
    name: str | None = None
    """Register the actor under this name for ``ember.get_actor(name)``; a named actor
    lives until ``ember.kill`` or shutdown, even with no handle left."""
    namespace: str | None = None
    """Namespace of ``name`` (default: the session's namespace)."""
    lifetime: str | None = None
    """"detached": keep the actor alive after its last handle is gone (until kill/shutdown)."""
    get_if_exists: bool = False
    """With ``name``: return the existing actor of that name instead of failing."""
    placement_group: Any = None
    """Hold the actor's resources inside this placement group."""
    placement_group_bundle_index: int = -1
    """Which bundle of ``placement_group`` (-1: any bundle that fits)."""
    scheduling_strategy: Any = None
    """``PlacementGroupSchedulingStrategy(pg, index)``, Ray's spelling of the two above."""

    def __post_init__(self) -> None:
        _check_amount("num_cpus", self.num_cpus)
        _check_amount("num_gpus", self.num_gpus)
        object.__setattr__(self, "resources", check_resources("resources", self.resources))
        for name in ("max_restarts", "max_task_retries"):
            check_number(f"{name} (-1: unlimited)", getattr(self, name), minimum=-1,
                         integer=True, type_error=ValueError)
        if self.max_concurrency is not None:
            check_number("max_concurrency", self.max_concurrency, minimum=1, integer=True,
                         type_error=ValueError)
        for name in ("name", "namespace"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        check_choice("lifetime", self.lifetime, (None, "detached", "non_detached"))
        if self.get_if_exists and self.name is None:
            raise ValueError("get_if_exists=True needs name= as well")
        check_placement(self)

    def resource_demand(self) -> dict[str, float]:
        return _cached_demand(self)


@dataclass(frozen=True)
class InitOptions:
    """Arguments of ``ember.init``."""

    num_cpus: float | None = None
    """CPUs the scheduler hands out (default: the machine's cores)."""
    num_gpus: float | None = None
    """GPUs the scheduler hands out (default 0: GPUs are not detected)."""
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
    namespace: str | None = None
    """Namespace for named actors (default "default")."""
    logging_level: int | str | None = None
    """Verbosity of Ember's own messages ("INFO", "DEBUG", ...; default WARNING, or
    ``EMBER_LOGGING_LEVEL``)."""
    log_to_driver: bool = True
    """Print what tasks and actors write to stdout/stderr in the driver, line by line,
    prefixed with the task or actor and its pid. False leaves workers' output alone."""
    security: Any = None
    """Dask backend only: a ``distributed.security.Security`` (TLS certificates) for the
    connection to the scheduler at ``address``. The LocalCluster that
    ``backend="dask"`` starts always speaks TLS with temporary certificates that only
    this session holds (so no other local user can connect), unless this is False.
    True is accepted for that LocalCluster too (the default)."""

    def __post_init__(self) -> None:
        if self.num_cpus is not None:
            _check_amount("num_cpus", self.num_cpus)
        if self.security is not None:
            if self.backend != "dask" and self.address is None:
                raise ValueError(
                    "security= configures the Dask backend's TLS; the embedded engine opens "
                    "no network listener. Pass address= or backend='dask' with it, or drop it")
            if self.security not in (True, False) and \
                    type(self.security).__module__ != "distributed.security":
                raise TypeError(
                    "security must be a distributed.security.Security (e.g. "
                    "Security(tls_ca_file=..., tls_client_cert=..., tls_client_key=..., "
                    f"require_encryption=True)) or True, got {self.security!r}")
            if isinstance(self.security, bool) and self.address is not None:
                raise ValueError(
                    f"security={self.security} is about the LocalCluster backend='dask' "
                    "starts; to reach the scheduler at address= pass that cluster's "
                    "distributed.security.Security (or no security for plain TCP)")
        if self.num_gpus is not None:
            _check_amount("num_gpus", self.num_gpus)
        object.__setattr__(self, "resources", check_resources("resources", self.resources))
        check_choice("backend", self.backend, (None, "local", "dask"))
        if self.address is not None and not isinstance(self.address, str):
            raise TypeError(f"address must be a string like 'tcp://host:8786', got {self.address!r}")
        if self.object_store_memory is not None:
            check_number("object_store_memory (bytes)", self.object_store_memory,
                         minimum=1 << 20, integer=True, type_error=ValueError)
        check_level(self.logging_level)
        if not isinstance(self.log_to_driver, bool):
            raise TypeError(f"log_to_driver must be True or False, got {self.log_to_driver!r}")
        if not isinstance(self.local_mode, bool):
            raise TypeError(f"local_mode must be True or False, got {self.local_mode!r}")
