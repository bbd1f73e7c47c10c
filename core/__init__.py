"""ember.core: tasks, objects and the engines that run them.

Porting a Ray script is mostly ``import ember as ray``.

Layout (each layer imports only the ones below it; tests/test_architecture.py checks)::

    _api                 the public functions (init, remote, get, ...); init starts a backend
    embedded/  dask/  _local_mode
                         the three backends: the engine in the driver (default), a Dask
                         cluster, and in-process local mode; none imports another
    _actor _remote_function _object_ref _generator _placement_group _options
    _backend _context _serialization _remote_error _task_args _resources _env _log
    exceptions           what every backend shares: the user-facing types, the Backend
                         protocol a backend implements, and the current session
    internal_kv settings serialization validation framing
                         small public modules for Ember's libraries (no private imports):
                         the session's key-value store, environment settings, pickling
                         that keeps filenames, the one settings checker (did-you-mean),
                         the one wire format of process messages
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
from ._generator import ObjectRefGenerator
from ._object_ref import ObjectRef
from ._options import PlacementGroupSchedulingStrategy
from ._placement_group import PlacementGroup
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
