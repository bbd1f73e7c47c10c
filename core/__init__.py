"""ember.core: tasks, objects and the engines that run them.

Porting a Ray script is mostly ``import ember as ray``.
"""

from . import exceptions
from ._api import (
    EmberContext,
    available_resources,
    cancel,
    cluster_resources,
    get,
    init,
    is_initialized,
    put,
    remote,
    shutdown,
    timeline,
    wait,
)
from ._object_ref import ObjectRef
from ._remote_function import RemoteFunction
from .exceptions import (
    ActorDiedError,
    EmberError,
    GetTimeoutError,
    InfeasibleResourcesError,
    NotSupportedOnBackend,
    ObjectLostError,
    ObjectStoreFullError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

__all__ = [
    "ActorDiedError",
    "EmberContext",
    "EmberError",
    "GetTimeoutError",
    "InfeasibleResourcesError",
    "NotSupportedOnBackend",
    "ObjectLostError",
    "ObjectRef",
    "ObjectStoreFullError",
    "RemoteFunction",
    "TaskCancelledError",
    "TaskError",
    "WorkerCrashedError",
    "available_resources",
    "cancel",
    "cluster_resources",
    "exceptions",
    "get",
    "init",
    "is_initialized",
    "put",
    "remote",
    "shutdown",
    "timeline",
    "wait",
]
