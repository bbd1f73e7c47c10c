"""``Application``: a deployment bound to its arguments, possibly other applications.

``serve.run`` flattens the graph into one ``DeploymentSpec`` per deployment, replacing
every bound application among the arguments by a ``DeploymentHandle`` to it::

    Ingress.bind(Model.bind(weights), Preprocess.bind())
        -> [Model(weights), Preprocess(), Ingress(<handle Model>, <handle Preprocess>)]
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ember.core.serialization import dumps_keeping_filenames

from ._config import DeploymentConfig
from ._handle import DeploymentHandle

if TYPE_CHECKING:
    from ._deployment import Deployment

# Settings a running replica can absorb without being restarted.
_LIVE_SETTINGS = {"num_replicas", "autoscaling_config", "user_config", "max_queued_requests",
                  "health_check_period_s", "health_check_timeout_s",
                  "graceful_shutdown_timeout_s"}


class Application:
    """A deployment with its constructor arguments fixed; ``serve.run`` takes one.

    Made by ``Deployment.bind(...)`` only (no public constructor).
    """

    _deployment: Deployment
    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("an Application comes from MyDeployment.bind(...)")

    @classmethod
    def _make(cls, deployment: Deployment, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Application:
        app = object.__new__(cls)
        app._deployment = deployment
        app._args = args
        app._kwargs = kwargs
        return app

    @property
    def deployment_name(self) -> str:
        return self._deployment.name

    def __repr__(self) -> str:
        return f"Application({self._deployment.name})"


@dataclass(frozen=True)
class DeploymentSpec:
    """What the controller needs to run one deployment (all picklable)."""

    name: str
    blob: bytes
    """cloudpickle of (class or function, args, kwargs), handles already substituted."""
    config: DeploymentConfig
    is_function: bool
    max_ongoing: int
    code_version: str
    """Changes when the code, arguments or a setting that needs new replicas changes."""


def flatten(app: Application, app_name: str) -> tuple[str, list[DeploymentSpec]]:
    """(ingress deployment name, specs with dependencies before their users)."""
    if not isinstance(app, Application):
        raise TypeError(
            f"serve.run needs an Application, got {type(app).__name__}: {app!r:.80}; "
            "bind the deployment first: serve.run(MyDeployment.bind(...))")
    names: dict[int, str] = {}
    specs: list[DeploymentSpec] = []
    taken: set[str] = set()

    def visit(node: Application) -> str:
        if id(node) in names:
            return names[id(node)]
        name = node.deployment_name
        suffix = 1
        while name in taken:  # the same deployment bound twice: Ray's _1, _2 names
            name = f"{node.deployment_name}_{suffix}"
            suffix += 1
        taken.add(name)
        names[id(node)] = name
        args = _substitute(node._args, visit, app_name)
        kwargs = _substitute(node._kwargs, visit, app_name)
        deployment = node._deployment
        config = deployment.config_for_run()
        if name != config.name:
            config = dataclasses.replace(config, name=name)
        specs.append(_spec(name, deployment, config, args, kwargs))
        return name

    return visit(app), specs


def _substitute(value: Any, visit: Any, app_name: str) -> Any:
    if isinstance(value, Application):
        return DeploymentHandle._make(app_name, visit(value))
    if isinstance(value, tuple):
        return tuple(_substitute(v, visit, app_name) for v in value)
    if isinstance(value, list):
        return [_substitute(v, visit, app_name) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, visit, app_name) for k, v in value.items()}
    return value


def _spec(name: str, deployment: Deployment, config: DeploymentConfig, args: Any,
          kwargs: Any) -> DeploymentSpec:
    target = deployment.func_or_class
    try:
        blob = dumps_keeping_filenames((target, args, kwargs))  # tracebacks name files
    except Exception as error:
        raise TypeError(
            f"deployment {name!r}: its code or bind() arguments cannot be pickled to send "
            f"to replicas ({type(error).__name__}: {error}); pass picklable arguments, or "
            "create the unpicklable object inside __init__") from error
    restart_settings = {key: value for key, value in dataclasses.asdict(config).items()
                        if key not in _LIVE_SETTINGS}
    digest = hashlib.sha256(blob)
    digest.update(repr(sorted(restart_settings.items())).encode())
    from ._deployment import is_function_deployment

    return DeploymentSpec(
        name=name, blob=blob, config=config, is_function=is_function_deployment(target),
        max_ongoing=config.effective_max_ongoing(deployment.largest_batch()),
        code_version=digest.hexdigest()[:16])
