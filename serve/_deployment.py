"""``@serve.deployment``: a class or function plus its settings; ``.bind()`` makes an app.

A ``Deployment`` is only a description: nothing runs until ``serve.run`` hands the bound
``Application`` to the controller, which starts the replicas.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._application import Application
from ._batching import largest_batch_size
from ._config import DeploymentConfig


class Deployment:
    """A class or function that ``serve.run`` runs as replicas behind HTTP and handles.

    Example::

        @serve.deployment(num_replicas=2)
        class Echo:
            async def __call__(self, request):
                return {"path": request.url.path}

        handle = serve.run(Echo.bind())
    """

    def __init__(self, target: Any, config: DeploymentConfig):
        self._target = target
        self._config = config

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def func_or_class(self) -> Any:
        return self._target

    def options(self, **overrides: Any) -> Deployment:
        """A copy with some settings changed (the same keywords as ``@serve.deployment``)."""
        return Deployment(self._target, self._config.replace(
            f"deployment {self.name!r}", overrides))

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        """Fix the constructor's (or, for a function, nothing's) arguments: an Application.

        Arguments may be other bound Applications; each replica receives a
        ``DeploymentHandle`` to that deployment in its place (model composition).
        """
        if not inspect.isclass(self._target) and (args or kwargs):
            raise TypeError(
                f"deployment {self.name!r} is a function: bind() takes no arguments for it; "
                "use a class deployment to pass constructor arguments")
        return Application._make(self, args, kwargs)

    def config_for_run(self) -> DeploymentConfig:
        return self._config

    def largest_batch(self) -> int:
        return largest_batch_size(self._target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"deployment {self.name!r} cannot be called directly; bind it and run it: "
            f"serve.run({self.name}.bind(...)), then call the returned handle")

    def __repr__(self) -> str:
        return f"Deployment(name={self.name!r})"


def deployment(_func_or_class: Any = None, *, name: str | None = None,
               num_replicas: int | str | None = None, max_ongoing_requests: int | None = None,
               max_queued_requests: int | None = None,
               autoscaling_config: dict[str, Any] | None = None,
               ray_actor_options: dict[str, Any] | None = None, num_cpus: float | None = None,
               num_gpus: float | None = None, resources: dict[str, float] | None = None,
               health_check_period_s: float | None = None,
               health_check_timeout_s: float | None = None,
               graceful_shutdown_timeout_s: float | None = None,
               user_config: Any = None) -> Any:
    """Declare a deployment: ``@serve.deployment`` or ``@serve.deployment(num_replicas=2)``.

    Args:
        name: the deployment's name within its application (default: the class or
            function name); a non-empty string without "/".
        num_replicas: replicas to run (default 1), or "auto" for autoscaling between 1
            and 100 replicas (Ray's defaults); ignored when ``autoscaling_config`` is set.
        max_ongoing_requests: requests one replica handles at once (default 5, or twice
            the largest ``@serve.batch`` size of the class so its batches can fill).
        max_queued_requests: requests held while every replica is full before new ones
            get 503 (default 1000; -1: no limit).
        autoscaling_config: ``{"min_replicas", "max_replicas", "initial_replicas",
            "target_ongoing_requests", "upscale_delay_s", "downscale_delay_s",
            "metrics_interval_s"}`` (Ray's names; defaults 1, 1, ``min_replicas``, 2.0,
            3.0 s, 60.0 s, 0.5 s); the controller then sizes the deployment from its
            ongoing requests per replica.
        ray_actor_options: ``{"num_cpus": .., "num_gpus": .., "resources": {..}}`` per replica
            (default one CPU, as Ray); ``num_cpus``/``num_gpus``/``resources`` say the same.
            Other keys raise ``ValueError``.
        num_cpus: CPUs held by each replica (default 1).
        num_gpus: GPUs held by each replica (default 0).
        resources: custom resources held by each replica, ``{"name": amount}`` ("CPU"
            and "GPU" are not allowed: use ``num_cpus``/``num_gpus``).
        health_check_period_s / health_check_timeout_s: how often the controller calls the
            instance's ``check_health()`` (default 10 s) and how long it may take
            (default 30 s) before the replica is replaced.
        graceful_shutdown_timeout_s: how long a stopping replica may take to finish its
            ongoing requests (default 20 s).
        user_config: passed to ``reconfigure(user_config)`` on every replica (default
            None: not called); changing only this does not restart the replicas.

    Returns:
        A ``Deployment`` (or a decorator making one, when called with options only).

    Raises:
        TypeError / ValueError: a setting of the wrong type or out of range, named in
            the message (checked here, at the decorator line).
    """
    given = {key: value for key, value in {
        "name": name, "num_replicas": num_replicas,
        "max_ongoing_requests": max_ongoing_requests,
        "max_queued_requests": max_queued_requests,
        "autoscaling_config": autoscaling_config, "ray_actor_options": ray_actor_options,
        "num_cpus": num_cpus, "num_gpus": num_gpus, "resources": resources,
        "health_check_period_s": health_check_period_s,
        "health_check_timeout_s": health_check_timeout_s,
        "graceful_shutdown_timeout_s": graceful_shutdown_timeout_s,
        "user_config": user_config}.items() if value is not None}

    def make(target: Any) -> Deployment:
        if isinstance(target, Deployment):
            raise TypeError("@serve.deployment is applied twice; use .options(...) instead")
        if not callable(target):
            raise TypeError(
                f"@serve.deployment needs a class or a function, got {target!r}")
        default_name = getattr(target, "__name__", None) or type(target).__name__
        config = DeploymentConfig(**{"name": default_name, **given})
        return Deployment(target, config)

    if _func_or_class is not None:
        return make(_func_or_class)
    return make


def is_function_deployment(target: Callable[..., Any]) -> bool:
    return not inspect.isclass(target)
