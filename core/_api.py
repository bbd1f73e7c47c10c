"""The public core API: argument checks, then one call into the active backend."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Self, TypeVar, overload

from . import _context, _log
from ._actor import ActorClass, ActorHandle
from ._env import default_address
from ._object_ref import ObjectRef, _awaitable_error_hint
from ._options import ActorOptions, InitOptions, TaskOptions, replace_checked
from ._placement_group import PlacementGroup, check_bundles
from ._remote_function import RemoteFunction

T = TypeVar("T")


@dataclass(frozen=True)
class EmberContext:
    """What ``init`` returns; usable as a context manager that shuts down on exit.

    Example::

        with ember.init(num_cpus=2) as context:
            print(context.backend, context.num_cpus)
    """

    backend: str
    """The engine's class name, ``"Node"`` (embedded), ``"DaskBackend"`` or
    ``"LocalModeBackend"``."""
    num_cpus: float
    """CPUs the session schedules (``cluster_resources()["CPU"]``)."""
    local_mode: bool
    """Whether tasks run serially in this process (``init(local_mode=True)``)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        shutdown()


def init(num_cpus: float | None = None, num_gpus: float | None = None,
         resources: dict[str, float] | None = None, address: str | None = None,
         backend: str | None = None, object_store_memory: int | None = None,
         local_mode: bool = False, *, namespace: str | None = None,
         ignore_reinit_error: bool = True, log_to_driver: bool = True,
         logging_level: int | str | None = None, security: Any = None) -> EmberContext:
    """Start Ember in this process (embedded engine) or connect to a cluster.

    Calling it again while running returns the running session's context, unless the
    call asks for another engine (a different ``address``, ``backend`` or
    ``local_mode``): that raises ``RuntimeError`` (shut down first), as does any second
    call with ``ignore_reinit_error=False`` (Ray's default). Using any
    API before ``init`` starts the embedded engine with defaults, as Ray does.

    Example::

        ember.init(num_cpus=2)
        assert ember.get(ember.put(1)) == 1
        ember.shutdown()

    Args:
        num_cpus: CPUs the scheduler hands out to tasks and actors (a number >= 0).
            None: ``os.cpu_count()``. With ``backend="dask"`` it is the number of
            LocalCluster workers; ignored with ``address`` (the cluster's workers count).
        num_gpus: GPUs the scheduler hands out; tasks that ask for some see their ids in
            ``CUDA_VISIBLE_DEVICES``. None: 0 (GPUs are not detected).
        resources: custom resources this node advertises, e.g. ``{"accelerator": 2}``
            (names other than ``"CPU"``/``"GPU"``, amounts >= 0). None: none.
        address: a Dask scheduler to connect to (``"tcp://host:8786"``, ``"host:8786"``
            or ``"dask://host:8786"``); selects the Dask backend. None: the
            ``EMBER_ADDRESS`` environment variable if set (as Ray reads
            ``RAY_ADDRESS``, so an unchanged script runs on a cluster), else no cluster.
            Unlike Ray, ``"auto"`` is not understood.
        backend: ``"local"`` (the embedded engine, the default when None) or
            ``"dask"`` (a Dask LocalCluster started for this session, or the cluster at
            ``address``).
        object_store_memory: bytes of shared memory for objects before they spill to
            disk (an int >= 1 MiB). None: 30% of the machine's RAM, as in Ray. Embedded
            engine only.
        local_mode: run every task at submission, serially, in the calling process (to
            debug with pdb), as Ray's ``local_mode``. Cannot be combined with
            ``address`` or ``backend="dask"`` (``ValueError``).
        namespace: the namespace named actors are registered and looked up in when they
            give none. None: ``"default"``. The Dask backend and local mode always
            use ``"default"``.
        ignore_reinit_error: with True (the default, unlike Ray) a repeated ``init``
            for the same engine returns the running session's context; False makes any
            repeated call raise ``RuntimeError``.
        log_to_driver: print what tasks and actors write to stdout/stderr here, line by
            line, prefixed with the task or actor and its pid (as Ray does). False
            leaves workers' output alone.
        logging_level: verbosity of Ember's own messages: a ``logging`` level name
            (``"INFO"``, ``"DEBUG"``, ...) or number. None: ``EMBER_LOGGING_LEVEL`` if
            set, else ``WARNING``.
        security: Dask backend only (``ValueError`` otherwise). With ``address``: a
            ``distributed.security.Security`` holding the TLS certificates to reach
            that scheduler (None: plain TCP). With ``backend="dask"``: None or True
            (the default) protects the LocalCluster with temporary TLS certificates
            only this session holds; False turns TLS off.

    Returns:
        The session's ``EmberContext``.

    Raises:
        RuntimeError: a session on another engine is running, or a repeated call
            with ``ignore_reinit_error=False``.
        ValueError: an invalid option value (``TypeError`` for a wrong type).
        EmberError: the Dask scheduler at ``address`` cannot be reached.
    """
    if address is None and backend in (None, "dask") and not local_mode:
        address = default_address()
    options = InitOptions(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources or {},
                          address=address, backend=backend,
                          object_store_memory=object_store_memory, local_mode=local_mode,
                          namespace=namespace, log_to_driver=log_to_driver,
                          logging_level=logging_level, security=security)
    global _session_options
    with _context._lock:
        current = _context.current_or_none()
        if current is not None:
            if _session_options is not None:
                _check_reinit(_session_options, options, ignore_reinit_error)
            return _describe(current)
        _log.configure(options.logging_level)
        _context.set_current(_start_backend(options))
        _session_options = options
        return _describe(_context.current())


_session_options: InitOptions | None = None
"""What this process's running session was started with (None inside a worker)."""


def _engine(options: InitOptions) -> str:
    if options.local_mode:
        return "local mode"
    if options.address is not None:
        return f"the Dask cluster at {options.address.removeprefix('dask://')}"
    if options.backend == "dask":
        return "a Dask LocalCluster"
    return "the embedded engine"


def _check_reinit(running: InitOptions, requested: InitOptions, ignore: bool) -> None:
    """A second ``init`` returns the running session, unless it asks for another engine:
    silently running the user's work on the wrong one would be worse than an error."""
    asks_other_engine = (
        (requested.address is not None and requested.address != running.address)
        or (requested.backend is not None
            and (requested.backend == "dask") != (running.backend == "dask"
                                                  or running.address is not None))
        or (requested.local_mode and not running.local_mode))
    if asks_other_engine or not ignore:
        raise RuntimeError(
            f"ember.init() was called for {_engine(requested)} while a session on "
            f"{_engine(running)} is running in this process (started by an earlier "
            "ember.init() or by the first Ember call); call ember.shutdown() first, then "
            "ember.init() again")


def _start_backend(options: InitOptions) -> Any:
    if options.backend == "dask" or options.address is not None:
        if options.local_mode:
            raise ValueError("local_mode=True runs in this process; it cannot use address= "
                             "or backend='dask'")
        from .dask._backend import DaskBackend

        return DaskBackend.start(options)
    if options.local_mode:
        from ._local_mode import LocalModeBackend

        return LocalModeBackend(options)
    from .embedded._node import Node

    return Node(options)


def _describe(backend: Any) -> EmberContext:
    resources = backend.cluster_resources()
    return EmberContext(backend=type(backend).__name__, num_cpus=resources.get("CPU", 0.0),
                        local_mode=type(backend).__name__ == "LocalModeBackend")


def _auto_init() -> Any:
    init()
    backend = _context.current_or_none()
    assert backend is not None
    return backend


_context.register_auto_init(_auto_init)


def is_initialized() -> bool:
    """Whether a session is running in this process."""
    return _context.current_or_none() is not None


def shutdown() -> None:
    """Stop the session: workers exit, shared memory and spill files are released."""
    global _session_options
    with _context._lock:
        backend = _context.current_or_none()
        _context.set_current(None)
        _session_options = None
    if backend is not None:
        backend.shutdown()


# -- remote ---------------------------------------------------------------------------
@overload
def remote(function: Callable[..., T], /) -> RemoteFunction[Any, T]: ...
@overload
def remote(**options: Any) -> Callable[[Callable[..., T]], RemoteFunction[Any, T]]: ...


def remote(*args: Any, **options: Any) -> Any:
    """Make a function run as a task: ``@ember.remote`` or ``@ember.remote(num_cpus=2)``.

    On a class it makes an actor class (``ActorClass``), as ``ray.remote`` does.
    ``async def`` functions are refused (``TypeError``); async actor methods are fine.

    Example::

        @ember.remote(num_returns=2)
        def split(x):
            return x, -x

        a, b = split.remote(3)

    Args:
        *args: one function or class, when used bare as ``@ember.remote`` (none with
            options).
        **options: default options of the task or actor (override per call with
            ``.options(...)``); an unknown name raises ``ValueError`` naming the valid
            ones. Tasks take ``num_cpus`` (default 1), ``num_gpus`` (0), ``resources``,
            ``max_retries`` (3; -1 retries forever), ``retry_exceptions`` (False, True
            or a list of exception types), ``num_returns`` (1, an int >= 0 or
            ``"streaming"``), ``name``, ``placement_group``,
            ``placement_group_bundle_index``, ``scheduling_strategy`` and
            ``generator_backpressure_num_objects`` (64). Actors take ``num_cpus``
            (default 0, as in Ray), ``num_gpus``, ``resources``, ``max_restarts`` (0),
            ``max_task_retries`` (0), ``max_concurrency`` (1; 1000 for async actors),
            ``name``, ``namespace``, ``lifetime`` (``"detached"``),
            ``get_if_exists``, ``placement_group``, ``placement_group_bundle_index``
            and ``scheduling_strategy``. The meanings are Ray's.

    Returns:
        A ``RemoteFunction`` or ``ActorClass`` (or, with options, a decorator that
        makes one).
    """
    if len(args) == 1 and not options and callable(args[0]):
        return _make_remote(args[0], {})
    if args:
        raise TypeError(
            "@ember.remote takes either a function or keyword options, e.g. "
            "@ember.remote(num_cpus=2)")
    if not options.get("max_concurrency") and not options.get("max_restarts"):
        replace_checked(TaskOptions(), "@ember.remote", {  # typos fail here, not later
            k: v for k, v in options.items() if k not in _ACTOR_ONLY})
    return lambda target: _make_remote(target, options)


_ACTOR_ONLY = {f.name for f in fields(ActorOptions)} - {f.name for f in fields(TaskOptions)}


def _make_remote(target: Any, options: dict[str, Any]) -> Any:
    if isinstance(target, type):
        return ActorClass(target, replace_checked(
            ActorOptions(), f"actor class {target.__name__!r}", options))
    if not callable(target):
        raise TypeError(f"@ember.remote needs a function, got {target!r}")
    if _is_coroutine_function(target):
        raise TypeError(
            f"@ember.remote on async function {target.__name__!r}: tasks are plain functions; "
            "run the coroutine with asyncio.run() inside a regular function")
    return RemoteFunction(target, replace_checked(
        TaskOptions(), f"remote function {getattr(target, '__name__', target)!r}", options))


def _is_coroutine_function(target: Any) -> bool:
    code = getattr(target, "__code__", None)
    return code is not None and bool(code.co_flags & 0x80)  # CO_COROUTINE


# -- objects ----------------------------------------------------------------------------
def _check_timeout(timeout: float | None) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout):
        raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds (or None to wait forever), got {timeout!r}")


def _check_refs(refs: Any, what: str) -> list[ObjectRef[Any]]:
    for index, ref in enumerate(refs):
        if not isinstance(ref, ObjectRef):
            raise TypeError(
                f"{what} expects ObjectRefs, but item {index} is {type(ref).__name__}: "
                f"{ref!r:.80}. Pass the refs returned by f.remote(...) or ember.put(...)")
    return list(refs)


def get(refs: ObjectRef[T] | Sequence[ObjectRef[Any]], *, timeout: float | None = None) -> Any:
    """The value of a ref, or the values of a list of refs, waiting up to ``timeout`` s.

    Raises the task's error (a ``TaskError`` that is also the user's exception type),
    ``GetTimeoutError`` on timeout. Large arrays come back as read-only zero-copy views.

    Args:
        refs: one ``ObjectRef``, or a list or tuple of them.
        timeout: seconds to wait (a number >= 0; 0 fails at once unless every object
            is ready). None: wait as long as it takes.

    Returns:
        The value for one ref, else a list of values in the order of ``refs``.

    Raises:
        TaskError: the task raised (the first failed ref in list order is reported).
        GetTimeoutError: not every object was ready within ``timeout``.
        TaskCancelledError: the task was cancelled with ``ember.cancel``.
        ActorDiedError: the actor of a method call died.
        WorkerCrashedError: the worker running the task died and retries ran out.
        TypeError: ``refs`` holds something other than ObjectRefs.
        RuntimeError: called inside an async actor method (``await ref`` there).
    """
    _check_timeout(timeout)
    _awaitable_error_hint()
    if isinstance(refs, ObjectRef):
        return _context.current().get([refs], timeout)[0]
    if isinstance(refs, (list, tuple)):
        checked = _check_refs(refs, "ember.get")
        if not checked:
            return []
        return _context.current().get(checked, timeout)
    raise TypeError(
        f"ember.get expects an ObjectRef or a list of ObjectRefs, got {type(refs).__name__}: "
        f"{refs!r:.80}. Did you call the function directly instead of f.remote(...)?")


def put(value: Any) -> ObjectRef[Any]:
    """Store ``value`` once in the object store; pass the ref to many tasks.

    Args:
        value: any picklable (cloudpickle) object, not an ``ObjectRef`` (``TypeError``;
            put a container holding it instead). On the embedded engine large numpy
            arrays, Arrow buffers and torch CPU tensors go to shared memory once and
            are read without a copy. The stored object is a snapshot: later changes
            to ``value`` are not seen.

    Returns:
        An ``ObjectRef`` to the stored object.
    """
    if isinstance(value, ObjectRef):
        raise TypeError(
            "ember.put of an ObjectRef is not allowed: it already refers to a stored object; "
            "pass the ref itself, or wrap it in a container (ember.put([ref]))")
    return _context.current().put(value)


def wait(refs: Sequence[ObjectRef[Any]], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
    """Split ``refs`` into (ready, not ready) once ``num_returns`` are ready or on timeout.

    Ready refs keep the order of ``refs``.

    Args:
        refs: a list or tuple of distinct ObjectRefs (a repeated ref is a
            ``ValueError``; a bare ref a ``TypeError``).
        num_returns: how many ready refs to wait for, from 1 to ``len(refs)``; at most
            this many are returned as ready.
        timeout: seconds to wait at most (a number >= 0; 0 checks once). None: until
            ``num_returns`` are ready. A timeout is not an error: fewer refs come back
            ready.
        fetch_local: accepted for Ray compatibility and ignored.

    Returns:
        Two lists, ``(ready, not_ready)``, that together hold every ref of ``refs``.
    """
    _awaitable_error_hint("ember.wait()")
    if isinstance(refs, ObjectRef) or not isinstance(refs, (list, tuple)):
        raise TypeError(
            f"ember.wait expects a list of ObjectRefs, got {type(refs).__name__}; "
            "wrap a single ref in a list: ember.wait([ref])")
    checked = _check_refs(refs, "ember.wait")
    if len(set(checked)) != len(checked):
        raise ValueError("ember.wait got the same ObjectRef more than once; pass each ref once")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 1:
        raise ValueError(f"num_returns must be a positive int, got {num_returns!r}")
    if num_returns > len(checked):
        raise ValueError(
            f"num_returns={num_returns} is larger than the number of refs ({len(checked)}); "
            "pass num_returns=len(refs) at most")
    _check_timeout(timeout)
    return _context.current().wait(checked, num_returns, timeout)


def cancel(ref: ObjectRef[Any], *, force: bool = False, recursive: bool = True) -> None:
    """Stop the task producing ``ref``: queued tasks never run, a running one gets
    KeyboardInterrupt (``force=True`` kills its worker); ``get`` raises TaskCancelledError.

    A finished task is left alone (its result stays). In local mode nothing is
    cancelled: tasks have run by the time they are submitted.

    Args:
        ref: the ObjectRef returned by the task's ``.remote()`` call.
        force: kill the worker process running the task instead of interrupting it
            (for code that swallows KeyboardInterrupt or is stuck outside Python).
            The task is not retried.
        recursive: accepted for Ray compatibility and ignored.
    """
    if not isinstance(ref, ObjectRef):
        raise TypeError(f"ember.cancel expects an ObjectRef, got {type(ref).__name__}")
    _context.current().cancel(ref, bool(force))


def cluster_resources() -> dict[str, float]:
    """Total resources of the cluster, e.g. ``{"CPU": 2.0, "object_store_memory": ...}``."""
    return _context.current().cluster_resources()


def available_resources() -> dict[str, float]:
    """Resources not currently held by running tasks."""
    return _context.current().available_resources()


def timeline(filename: str | None = None) -> list[dict[str, Any]]:
    """Task events as Chrome trace events; written as JSON to ``filename`` if given
    (open it in chrome://tracing or Perfetto).

    Args:
        filename: a path to write ``{"traceEvents": [...]}`` to (overwritten). None:
            write nothing, only return the events.

    Returns:
        The events of the session's finished tasks (one ``"ph": "X"`` event each).
    """
    events = _context.current().timeline_events()
    if filename is not None:
        with open(filename, "w") as handle:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, handle)
    return events


# -- actors ------------------------------------------------------------------------------
def kill(actor: ActorHandle[Any], *, no_restart: bool = True) -> None:
    """Kill an actor's process now; with ``no_restart=False`` it restarts if it may.

    Args:
        actor: the ``ActorHandle`` of the actor.
        no_restart: True (the default): the actor is dead for good, even with
            ``max_restarts``; its queued and running calls fail with
            ``ActorDiedError`` and its name is freed. False: it is restarted
            (``__init__`` runs again) if its ``max_restarts`` allows, as in Ray. The
            Dask backend always ends it for good.
    """
    if not isinstance(actor, ActorHandle):
        raise TypeError(f"ember.kill expects an actor handle, got {type(actor).__name__}")
    _context.current().kill_actor(actor, bool(no_restart))


def get_actor(name: str, namespace: str | None = None) -> ActorHandle[Any]:
    """The handle of the live actor registered as ``name``; ValueError if there is none.

    Args:
        name: the ``name=`` the actor was created with (a non-empty string).
        namespace: the namespace it was registered in. None: the session's namespace
            (``init(namespace=...)``, else ``"default"``).

    Returns:
        An ``ActorHandle``; holding it keeps the actor alive, as any handle does.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"get_actor needs an actor name (a non-empty string), got {name!r}")
    return _context.current().get_actor(name, namespace)


# -- placement groups ----------------------------------------------------------------------
def placement_group(bundles: list[dict[str, float]], strategy: str = "PACK",
                    name: str | None = None, lifetime: str | None = None) -> PlacementGroup:
    """Reserve ``bundles`` of resources together (all or none); see ``pg.ready()``.

    Raises InfeasibleResourcesError at once if the cluster can never hold them.

    Args:
        bundles: a non-empty list of resource dicts, e.g. ``[{"CPU": 1}, {"GPU": 1}]``;
            each bundle must reserve a positive amount of something.
        strategy: how bundles are spread over machines, as in Ray: ``"PACK"`` (the
            default, few machines), ``"SPREAD"``, ``"STRICT_PACK"`` (one machine) or
            ``"STRICT_SPREAD"`` (one machine per bundle, so infeasible with several
            bundles on the embedded engine's single machine).
        name: a label kept on the group (``pg.name``). None: unnamed. Groups cannot
            be looked up by name.
        lifetime: accepted for Ray compatibility and ignored (a group lasts until
            ``remove_placement_group`` or shutdown).

    Returns:
        A ``PlacementGroup``; reservation may still be pending (``pg.ready()``,
        ``pg.wait()``).

    Raises:
        InfeasibleResourcesError: the cluster can never hold the bundles.
        ValueError: bad ``bundles`` or ``strategy``.
    """
    checked = check_bundles(bundles, strategy)
    return _context.current().placement_group(checked, strategy, name)


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Free a group's reservation; actors placed in it are killed.

    Args:
        placement_group: the ``PlacementGroup`` from ``ember.placement_group``;
            removing it twice is harmless.
    """
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(
            f"remove_placement_group expects a PlacementGroup, got {placement_group!r}")
    _context.current().remove_placement_group(placement_group)
