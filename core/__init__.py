"""ember.core: tasks, objects and the engines that run them.

Porting a Ray script is mostly ``import ember as ray``.
"""

from . import exceptions
from ._actor import ActorClass, ActorHandle, method
from ._api import (
    EmberContext,
    available_resources,
    cancel,
    cluster_resources,
    get,
    get_actor,
    init,
    is_initialized,
    kill,
    placement_group,
    put,
    remote,
    remove_placement_group,
    shutdown,
    timeline,
    wait,
)
from ._object_ref import ObjectRef
from ._options import PlacementGroupSchedulingStrategy
from ._placement_group import PlacementGroup
from ._remote_function import RemoteFunction
from ._streams import ObjectRefGenerator
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
