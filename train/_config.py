"""The settings a training run is described by: how many workers, where results go, how
many checkpoints to keep, how many failures to survive. Checked when built, so a typo
fails at the call that made it rather than minutes into a run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ember.core import validation

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


def _check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    validation.check_number(f"{owner}({name}=...)", value, minimum=minimum, integer=True,
                            type_error=ValueError)


@validation.suggest_keywords
@dataclass(frozen=True)
class ScalingConfig:
    """How many training workers, and what each one holds.

    Example::

        ScalingConfig(num_workers=2)                       # 2 workers, 1 CPU each
        ScalingConfig(num_workers=4, use_gpu=True)         # 1 GPU each, nccl
        ScalingConfig(num_workers=2, resources_per_worker={"CPU": 2})
    """

    num_workers: int = 1
    """How many training processes (ranks), an int >= 1; default 1."""
    use_gpu: bool = False
    """True: each worker holds one GPU (unless ``resources_per_worker`` says otherwise),
    trains on it (``get_device``) and the process group uses nccl; False (the default):
    CPU and gloo."""
    resources_per_worker: Mapping[str, float] | None = None
    """Per worker, e.g. ``{"CPU": 2, "GPU": 1}`` (default: 1 CPU, plus 1 GPU with use_gpu).
    Keys ``cpu`` / ``gpu`` in any case, custom resource names as given; amounts are
    numbers >= 0, each replacing the default for its key (``{"CPU": 2}`` with use_gpu
    still holds 1 GPU). A worker runs torch with one thread per CPU it holds."""
    placement_strategy: str = "PACK"
    """How the workers' bundles are placed on nodes (Ray's placement-group strategies):
    ``"PACK"`` (the default), ``"SPREAD"``, ``"STRICT_PACK"`` or ``"STRICT_SPREAD"``."""

    def __post_init__(self) -> None:
        _check_int("ScalingConfig", "num_workers", self.num_workers, 1)
        if not isinstance(self.use_gpu, bool):
            raise TypeError(f"ScalingConfig(use_gpu=...) must be a bool, got {self.use_gpu!r}")
        validation.check_choice("ScalingConfig(placement_strategy=...)",
                                self.placement_strategy, _STRATEGIES)
        if self.resources_per_worker is not None:
            if not isinstance(self.resources_per_worker, Mapping):
                raise ValueError("ScalingConfig(resources_per_worker=...) must be a dict such as "
                                 f"{{'CPU': 1}}, got {self.resources_per_worker!r}")
            for key, amount in self.resources_per_worker.items():
                if not isinstance(key, str) or isinstance(amount, bool) \
                        or not isinstance(amount, (int, float)) or amount < 0:
                    raise ValueError(
                        "ScalingConfig(resources_per_worker=...) maps resource names to "
                        f"amounts >= 0, got {key!r}: {amount!r}")

    def worker_resources(self) -> dict[str, float]:
        """One worker's bundle: CPU and GPU spelled as Ember's resource names.

        Returns:
            A dict of resource name -> amount, e.g. ``{"CPU": 1.0, "GPU": 1.0}``.
        """
        resources = {"CPU": 1.0, **({"GPU": 1.0} if self.use_gpu else {})}
        for key, amount in (self.resources_per_worker or {}).items():
            resources[key.upper() if key.lower() in ("cpu", "gpu") else key] = float(amount)
        return resources

    @property
    def num_cpus_per_worker(self) -> float:
        return self.worker_resources().get("CPU", 0.0)

    @property
    def num_gpus_per_worker(self) -> float:
        return self.worker_resources().get("GPU", 0.0)


@validation.suggest_keywords
@dataclass(frozen=True)
class CheckpointConfig:
    """Which persisted checkpoints to keep.

    ``num_to_keep`` best by ``checkpoint_score_attribute`` (the newest when that is not
    set); the latest checkpoint is always kept, so a restart never loses progress.
    """

    num_to_keep: int | None = None
    """How many persisted checkpoints to keep, an int >= 1 (the others are deleted from
    storage; the latest is kept besides). Default None: all of them."""
    checkpoint_score_attribute: str | None = None
    """The reported metric that ranks checkpoints (a report lacking it ranks last).
    Default None: the newest are the best."""
    checkpoint_score_order: str = "max"
    """``"max"`` (the default): a higher ``checkpoint_score_attribute`` is better;
    ``"min"``: a lower one."""
    checkpoint_frequency: int = 0
    """Tune, class trainables (e.g. an rl Algorithm): save every N iterations (0: never)."""
    checkpoint_at_end: bool = True
    """Tune, class trainables: save when the trial stops or pauses."""

    def __post_init__(self) -> None:
        if self.num_to_keep is not None:
            _check_int("CheckpointConfig", "num_to_keep", self.num_to_keep, 1)
        _check_int("CheckpointConfig", "checkpoint_frequency", self.checkpoint_frequency, 0)
        validation.check_choice("CheckpointConfig(checkpoint_score_order=...)",
                                self.checkpoint_score_order, ("max", "min"))
        attribute = self.checkpoint_score_attribute
        if attribute is not None and (not isinstance(attribute, str) or not attribute):
            raise ValueError("CheckpointConfig(checkpoint_score_attribute=...) must be a metric "
                             f"name, got {attribute!r}")


@validation.suggest_keywords
@dataclass(frozen=True)
class FailureConfig:
    """How many times a failed run restarts from its latest checkpoint (-1: always)."""

    max_failures: int = 0
    """How many failures (a rank raising, dying or timing out) to restart after, an int
    >= -1: 0 (the default) fails on the first, -1 restarts without limit. Under tune,
    the trial's restarts."""

    def __post_init__(self) -> None:
        _check_int("FailureConfig", "max_failures", self.max_failures, -1)


def default_storage_path() -> str:
    return os.environ.get("EMBER_STORAGE_PATH") or os.path.join(
        os.path.expanduser("~"), "ember_results")


@validation.suggest_keywords
@dataclass(frozen=True)
class RunConfig:
    """Where a run's checkpoints and results go, and how it copes with failures.

    ``storage_path`` is a local folder or any URI pyarrow.fs opens (``s3://...``,
    ``gs://...``, ``file:///...``); the run's files go under ``storage_path/name``.
    ``stop`` is used by tune (a dict of metric thresholds, a ``Stopper`` or a function).
    """

    name: str | None = None
    """The run's folder under ``storage_path`` (no ``/``). Default None:
    ``TorchTrainer_<date>_<time>`` (a Tuner names it after the trainable)."""
    storage_path: str | None = None
    """A local folder or URI for the run's folder. Default None: ``$EMBER_STORAGE_PATH``
    if set, else ``~/ember_results``."""
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Which checkpoints to keep (None: the defaults, keep all)."""
    failure_config: FailureConfig = field(default_factory=FailureConfig)
    """How many failures to survive (None: the defaults, none)."""
    stop: Any = None
    """Read by ``Tuner`` only (``TorchTrainer.fit`` ignores it): a dict of
    ``{metric: threshold}`` (a trial stops once any reported metric reaches its value),
    a function ``fn(trial_id, result) -> bool``, or a ``tune.Stopper``. Default None."""
    verbose: int = 1
    """0: silent; 1: a table row per report (tune: a trial table)."""

    def __post_init__(self) -> None:
        if self.name is not None and (not isinstance(self.name, str) or not self.name
                                      or "/" in self.name):
            raise ValueError(f"RunConfig(name=...) must be a folder name, got {self.name!r}")
        if self.storage_path is not None and (
                not isinstance(self.storage_path, (str, os.PathLike)) or not str(self.storage_path)):
            raise ValueError("RunConfig(storage_path=...) must be a folder path or a URI, got "
                             f"{self.storage_path!r}")
        if self.checkpoint_config is None:
            object.__setattr__(self, "checkpoint_config", CheckpointConfig())
        if self.failure_config is None:
            object.__setattr__(self, "failure_config", FailureConfig())
        if not isinstance(self.checkpoint_config, CheckpointConfig):
            raise TypeError("RunConfig(checkpoint_config=...) must be a CheckpointConfig, got "
                             f"{self.checkpoint_config!r}")
        if not isinstance(self.failure_config, FailureConfig):
            raise TypeError("RunConfig(failure_config=...) must be a FailureConfig, got "
                             f"{self.failure_config!r}")
        _check_int("RunConfig", "verbose", self.verbose, 0)

    def resolved_storage_path(self) -> str:
        """``storage_path``, or the default (``$EMBER_STORAGE_PATH``, else
        ``~/ember_results``) when it is None."""
        return str(self.storage_path) if self.storage_path is not None else default_storage_path()
