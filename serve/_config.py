"""Typed, validated settings of a deployment (what ``@serve.deployment(...)`` takes).

Every setting is checked when the deployment is declared, so a typo or a bad value fails
at the decorator line with the argument's name and the fix, not later in a replica.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ember.core import validation

DEFAULT_MAX_ONGOING_REQUESTS = 5
"""Ray Serve's default; raised automatically for classes with ``@serve.batch`` methods."""
DEFAULT_MAX_QUEUED_REQUESTS = 1000
"""Requests the proxy holds for a deployment whose replicas are all full (then 503)."""


def check_number(name: str, value: Any, *, minimum: float = 0.0, integer: bool = False,
                 allow_minimum: bool = True) -> None:
    """Raise TypeError/ValueError naming ``name`` unless ``value`` is a number in range
    (serve's settings are numbers >= 0 unless said otherwise)."""
    if allow_minimum:
        validation.check_number(name, value, minimum=minimum, integer=integer)
    else:
        validation.check_number(name, value, above=minimum, integer=integer)


@dataclass(frozen=True)
class AutoscalingConfig:
    """How the controller sizes a deployment from its ongoing requests (Ray's names)."""

    min_replicas: int = 1
    """Never fewer replicas than this (0 is allowed: scale to zero when idle)."""
    max_replicas: int = 1
    """Never more replicas than this."""
    initial_replicas: int | None = None
    """Replicas started by ``serve.run`` (default: ``min_replicas``)."""
    target_ongoing_requests: float = 2.0
    """Desired average of ongoing requests per replica."""
    upscale_delay_s: float = 3.0
    """How long more replicas must be wanted before they are added."""
    downscale_delay_s: float = 60.0
    """How long fewer replicas must be wanted before some are stopped."""
    metrics_interval_s: float = 0.5
    """How often the controller reads the replicas' ongoing-request counts."""

    def __post_init__(self) -> None:
        check_number("autoscaling_config['min_replicas']", self.min_replicas, integer=True)
        check_number("autoscaling_config['max_replicas']", self.max_replicas, minimum=1,
                     integer=True)
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"autoscaling_config min_replicas ({self.min_replicas}) is larger than "
                f"max_replicas ({self.max_replicas}); make max_replicas >= min_replicas")
        if self.initial_replicas is not None:
            check_number("autoscaling_config['initial_replicas']", self.initial_replicas,
                         integer=True)
            if not self.min_replicas <= self.initial_replicas <= self.max_replicas:
                raise ValueError(
                    f"autoscaling_config initial_replicas ({self.initial_replicas}) must lie "
                    f"between min_replicas ({self.min_replicas}) and max_replicas "
                    f"({self.max_replicas})")
        check_number("autoscaling_config['target_ongoing_requests']",
                     self.target_ongoing_requests, allow_minimum=False)
        for name in ("upscale_delay_s", "downscale_delay_s"):
            check_number(f"autoscaling_config[{name!r}]", getattr(self, name))
        check_number("autoscaling_config['metrics_interval_s']", self.metrics_interval_s,
                     allow_minimum=False)

    @classmethod
    def from_value(cls, value: Any) -> AutoscalingConfig | None:
        """Accept a dict of the fields above (Ray's form), an instance, or None."""
        if value is None or isinstance(value, AutoscalingConfig):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"autoscaling_config must be a dict such as {{'min_replicas': 1, "
                f"'max_replicas': 4}}, got {value!r}")
        validation.reject_unknown("autoscaling_config", value,
                                  [f.name for f in dataclasses.fields(cls)], noun="key")
        return cls(**value)

    @property
    def start_replicas(self) -> int:
        return self.min_replicas if self.initial_replicas is None else self.initial_replicas


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything ``@serve.deployment(...)`` and ``.options(...)`` accept."""

    name: str
    """The deployment's name within its application (default: the class/function name)."""
    num_replicas: int = 1
    """Replicas to run; ignored when ``autoscaling_config`` is set ("auto" turns it on)."""
    max_ongoing_requests: int | None = None
    """Requests one replica handles at once (default 5, or twice the largest
    ``@serve.batch`` size of the class so batches can fill)."""
    max_queued_requests: int = DEFAULT_MAX_QUEUED_REQUESTS
    """Requests waiting for a free replica before new ones get 503 (-1: no limit)."""
    autoscaling_config: AutoscalingConfig | None = None
    """Scale between min and max replicas on ongoing requests (see AutoscalingConfig)."""
    num_cpus: float | None = None
    """CPUs held by each replica (default 1, as Ray); same as ray_actor_options."""
    num_gpus: float | None = None
    """GPUs held by each replica."""
    resources: Mapping[str, float] = field(default_factory=dict)
    """Custom resources held by each replica."""
    ray_actor_options: Mapping[str, Any] = field(default_factory=dict)
    """Ray's spelling of the three above: ``{"num_cpus": 1, "num_gpus": 0, "resources": {}}``."""
    health_check_period_s: float = 10.0
    """How often the controller calls each replica's ``check_health``."""
    health_check_timeout_s: float = 30.0
    """A health check slower than this marks the replica unhealthy (it is replaced)."""
    graceful_shutdown_timeout_s: float = 20.0
    """How long a stopping replica may take to finish its ongoing requests."""
    user_config: Any = None
    """Passed to the instance's ``reconfigure(user_config)``; changing only this does not
    restart replicas."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"name must be a non-empty string without '/', got {self.name!r}")
        num_replicas = self.num_replicas
        if num_replicas == "auto":
            object.__setattr__(self, "num_replicas", 1)
            if self.autoscaling_config is None:
                object.__setattr__(self, "autoscaling_config", AutoscalingConfig(
                    min_replicas=1, max_replicas=100))
        else:
            check_number("num_replicas", num_replicas, integer=True)
        object.__setattr__(self, "autoscaling_config",
                           AutoscalingConfig.from_value(self.autoscaling_config))
        if self.max_ongoing_requests is not None:
            check_number("max_ongoing_requests", self.max_ongoing_requests, minimum=1,
                         integer=True)
        check_number("max_queued_requests", self.max_queued_requests, minimum=-1, integer=True)
        self._merge_actor_options()
        for name in ("health_check_period_s", "health_check_timeout_s"):
            check_number(name, getattr(self, name), allow_minimum=False)
        check_number("graceful_shutdown_timeout_s", self.graceful_shutdown_timeout_s)

    def _merge_actor_options(self) -> None:
        options = self.ray_actor_options
        if not isinstance(options, Mapping):
            raise TypeError(
                f"ray_actor_options must be a dict such as {{'num_cpus': 1}}, got {options!r}")
        validation.reject_unknown("ray_actor_options (Ember replicas take these)", options,
                                  ["num_cpus", "num_gpus", "resources"], noun="key")
        for key in ("num_cpus", "num_gpus"):
            mine, theirs = getattr(self, key), options.get(key)
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError(
                    f"{key} is given twice with different values ({key}={mine!r} and "
                    f"ray_actor_options[{key!r}]={theirs!r}); give it once")
            value = mine if mine is not None else theirs
            if value is not None:
                check_number(key, value)
            object.__setattr__(self, key, value)
        resources = dict(options.get("resources") or {})
        resources.update(self.resources or {})
        if not isinstance(resources, dict):
            raise TypeError(f"resources must be a dict of name -> amount, got {resources!r}")
        for key, amount in resources.items():
            if not isinstance(key, str) or key in ("CPU", "GPU"):
                raise ValueError(
                    f"resources key {key!r} is not allowed; use num_cpus/num_gpus for CPU/GPU")
            check_number(f"resources[{key!r}]", amount)
        object.__setattr__(self, "resources", resources)
        object.__setattr__(self, "ray_actor_options", {})

    def actor_resources(self) -> dict[str, Any]:
        """The replica actor's resource options (one CPU by default, as Ray)."""
        return {"num_cpus": 1 if self.num_cpus is None else self.num_cpus,
                "num_gpus": self.num_gpus or 0, "resources": dict(self.resources)}

    def actor_resources_demand(self) -> dict[str, float]:
        """The same, as one resource dict (for checking what fits)."""
        options = self.actor_resources()
        demand = {"CPU": float(options["num_cpus"]), "GPU": float(options["num_gpus"])}
        demand.update({k: float(v) for k, v in options["resources"].items()})
        return demand

    def effective_max_ongoing(self, largest_batch: int) -> int:
        if self.max_ongoing_requests is not None:
            return self.max_ongoing_requests
        return max(DEFAULT_MAX_ONGOING_REQUESTS, 2 * largest_batch)

    def start_replicas(self) -> int:
        scaling = self.autoscaling_config
        return self.num_replicas if scaling is None else scaling.start_replicas

    def replace(self, what: str, overrides: Mapping[str, Any]) -> DeploymentConfig:
        """``dataclasses.replace`` that names the valid keys when one is unknown."""
        validation.reject_unknown(what, overrides, [f.name for f in dataclasses.fields(self)])
        overrides = dict(overrides)
        if "ray_actor_options" in overrides:  # the new options replace the merged ones
            for key, empty in (("num_cpus", None), ("num_gpus", None), ("resources", {})):
                overrides.setdefault(key, empty)
        return dataclasses.replace(self, **overrides)
