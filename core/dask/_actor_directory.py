"""The dask backend's side of actors: creating them, numbering calls, names, restarts.

Named actors are recorded in the scheduler's metadata, so any process of the cluster
finds them with ``get_actor``. A name belongs to the session that made it: it is
released when that session shuts down, and a name whose session's client is no longer
connected (its driver died) is free again. A ``lifetime="detached"`` actor is also
published as a Dask dataset, which keeps it alive after its session ends, and keeps its
name until ``ember.kill``. Dask does not restart actors: when an actor's worker is
lost (Dask errs the actor's creation future; a watcher thread notices within
``WATCH_PERIOD_S``, as does any call that fails), this process re-creates the actors it
made (same class and arguments, a new Dask actor) up to ``max_restarts`` and points
their names at the new incarnation; a dead actor's name is free again. Handles held by
other processes keep pointing at the lost incarnation; ``get_actor`` finds the new one.
"""

from __future__ import annotations

import contextlib
import itertools
import pickle
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from .._actor import ActorHandle, MethodInfo
from .._generator import ObjectRefGenerator
from .._object_ref import ObjectRef
from .._task_args import Slot
from ..exceptions import ActorDiedError, TaskCancelledError
from ._actors import ActorHost, relay, relay_stream, skip_call
from ._direct import DirectCall, failed, send
from ._tasks import RemoteFailure

_METADATA = "ember-actors"
WATCH_PERIOD_S = 0.2
"""How often the owner looks for actors whose worker was lost."""


@dataclass
class DaskActor:
    actor_id: str
    class_name: str
    methods: dict[str, MethodInfo]
    future: Any                 # the creation Future; its value is the Dask actor proxy
    create: Any                 # () -> a new creation Future (a restart)
    options: Any
    restarts: int = 0
    dead: str | None = None
    seq: itertools.count[int] = field(default_factory=itertools.count)
    proxy: tuple[str, Any] | None = None  # (creation key, Dask's actor proxy) once created
    direct: set[DirectCall] = field(default_factory=set)  # direct calls not answered yet


class DaskActorDirectory:
    def __init__(self, backend: Any):
        self.backend = backend
        self.client = backend.client
        self.caller = uuid.uuid4().hex  # this process, as a caller of actors
        self.actors: dict[str, DaskActor] = {}
        self._names: list[tuple[str, str]] = []  # (namespace, name) this session published
        self._foreign: dict[str, itertools.count[int]] = {}  # call numbers for others' actors
        self._lock = threading.Lock()
        self._unfinished: set[Any] = set()  # relay futures not done yet (see call)
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._settled: set[str] = set()  # creation keys whose failure was handled

    def create(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               options: Any) -> ActorHandle[Any]:
        backend = self.backend
        if options.name is not None:
            existing = self._lookup(options.name, options.namespace)
            if existing is not None:
                if options.get_if_exists:
                    return existing
                raise ValueError(
                    f"an actor named {options.name!r} already exists in namespace "
                    f"{options.namespace or 'default'!r}; choose another name, pass "
                    "get_if_exists=True, or ember.kill() the old one")
        where = backend.constraints(options, f"actor {actor_class.__name__!r}")
        blob, slots, inputs = backend.task_inputs(args, kwargs)
        concurrency = options.max_concurrency or (1000 if actor_class.is_async else 1)
        class_blob = actor_class._shipped.blob()
        name = actor_class.__name__

        def create() -> Any:
            return self.client.submit(
                ActorHost, class_blob, name, blob, slots, concurrency, *inputs, actor=True,
                pure=False, key=f"actor-{name}-{uuid.uuid4().hex}", **where)

        future = create()
        actor = DaskActor(future.key, name, actor_class._methods, future, create, options)
        self.actors[actor.actor_id] = actor
        self._start_watching()
        handle = ActorHandle._make(actor.actor_id, name, actor.methods, backend.ref_for(future))
        if options.name is not None:
            self._publish(actor)
        return handle

    def call(self, handle: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             num_returns: Any) -> Any:
        backend = self.backend
        actor = self.actors.get(handle._actor_id)
        if actor is not None and actor.dead and num_returns != "streaming":
            # As in Ray: the call returns, its result raises (get, not .remote()).
            key = f"actor-call-{handle._class_name}.{method}-{uuid.uuid4().hex}"
            return [backend.ref_for(failed(key, ActorDiedError(actor.dead)))
                    for _ in range(int(num_returns))]
        if actor is not None and actor.dead:
            raise ActorDiedError(actor.dead)
        target = actor.future if actor is not None else backend.future_of(handle._keepalive)
        blob, slots, inputs = backend.task_inputs(args, kwargs)
        with self._lock:
            counter = actor.seq if actor is not None else self._counter(handle._actor_id)
            seq = next(counter)
        if num_returns == "streaming":
            return self._call_streaming(actor, target, seq, method, blob, slots, inputs,
                                        f"{handle._class_name}.{method}")
        key = f"actor-call-{handle._class_name}.{method}-{uuid.uuid4().hex}"
        proxy = self._proxy(actor) if backend.owns_client and num_returns == 1 \
            and not inputs and isinstance(blob, bytes) else None
        if proxy is not None:  # straight to the actor's worker (see _dask_direct)
            assert actor is not None  # _proxy has none for other processes' actors
            call = send(self.client, proxy, key, self.caller, seq, method, blob, slots)
            generation = target.key
            actor.direct.add(call)
            call.add_done_callback(actor.direct.discard)
            call.add_done_callback(lambda done: self._observe(actor, generation, done))
            return [backend.ref_for(call)]
        future = self.client.submit(
            relay, target, self.caller, seq, method, blob, slots, *inputs, pure=False, key=key)
        if inputs:  # registered first: it must see the key before it may be released
            future.add_done_callback(lambda done: self._skip_if_unrun(done, target, seq))
        # Held until it has run, even if the caller drops the ref (a fire-and-forget call,
        # as Ray allows): Dask forgets an unwanted task, and the actor would then wait
        # forever for this call number before running the caller's later calls.
        self._unfinished.add(future)
        future.add_done_callback(self._unfinished.discard)
        if actor is not None:
            generation = target.key
            future.add_done_callback(lambda done: self._observe(actor, generation, done))
        return backend.split_returns(future, num_returns, f"{handle._class_name}.{method}")

    def _call_streaming(self, actor: DaskActor | None, target: Any, seq: int, method: str,
                        blob: Any, slots: list[Slot], inputs: list[Any], name: str) -> Any:
        backend = self.backend
        queue_name = f"ember-stream-{uuid.uuid4().hex}"
        backend.distributed.Queue(queue_name, client=self.client, maxsize=64)
        future = self.client.submit(
            relay_stream, target, self.caller, seq, method, blob, slots, queue_name, *inputs,
            pure=False, key=f"actor-call-{name}-{uuid.uuid4().hex}")
        if inputs:  # as in call
            future.add_done_callback(lambda done: self._skip_if_unrun(done, target, seq))
        self._unfinished.add(future)  # as in call: it must run to keep the call numbers whole
        future.add_done_callback(self._unfinished.discard)
        return ObjectRefGenerator._make(queue_name, backend.ref_for(future), backend)

    def _skip_if_unrun(self, done: Any, target: Any, seq: int) -> None:
        """A relay whose argument failed never runs (Dask fails it unrun): the actor is
        told to skip its call number, or it would wait for it before the caller's later
        calls forever."""
        if done.status != "error":
            return
        try:
            blamed = self.client.run_on_scheduler(_blamed_key, done.key)
            if blamed is not None and blamed != done.key:
                self.client.submit(skip_call, target, self.caller, seq, pure=False)
        except Exception:  # noqa: BLE001,S110 - the session or the actor is gone: nothing waits
            pass

    def _proxy(self, actor: DaskActor | None) -> Any:
        """Dask's proxy to this actor's current incarnation, once it exists (None until
        then, and for actors of other processes: those calls go through a relay task)."""
        if actor is None or actor.dead:
            return None
        future = actor.future
        if future.status != "finished":
            return None  # being created (a relay task waits for it without blocking us),
            # or lost (the relay task fails at once, where a direct call would time out)
        if actor.proxy is not None and actor.proxy[0] == future.key:
            return actor.proxy[1]
        try:
            proxy = future.result()
        except Exception:  # noqa: BLE001 - its worker was lost: the relay task tells how
            return None
        actor.proxy = (future.key, proxy)
        return proxy

    def _counter(self, actor_id: str) -> itertools.count[int]:
        return self._foreign.setdefault(actor_id, itertools.count())

    def _start_watching(self) -> None:
        with self._lock:
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True,
                                                 name="ember-dask-actor-watch")
                self._watcher.start()

    def _watch(self) -> None:
        """Notice a lost worker without waiting for a call to fail: Dask errs an actor's
        creation future when the worker holding it is lost, and this thread (reading
        only local future states) restarts or buries the actor at once, as the embedded
        engine does when an actor process exits."""
        while not self._closed.wait(WATCH_PERIOD_S):
            for actor in list(self.actors.values()):
                future = actor.future
                if actor.dead or future.key in self._settled or future.status != "error":
                    continue
                self._settled.add(future.key)
                try:
                    self._observe(actor, future.key, future)
                except Exception:  # noqa: BLE001,S112 - the scheduler is gone: nothing to restart
                    continue

    def close(self) -> None:
        """At shutdown: stop watching, and this session's (not detached) names are free."""
        self._closed.set()
        self.release_names()

    def _observe(self, actor: DaskActor, generation: str, done: Any) -> None:
        """A call failed for a reason other than the method raising: the actor's worker
        was lost. Re-create it (``__init__`` with the original arguments) while
        ``max_restarts`` allows, else the actor is dead."""
        if done.status != "error" or actor.dead:
            return
        if isinstance(done.exception(), (RemoteFailure, TaskCancelledError)):
            return  # the method raised, or the caller cancelled its wait: the actor lives
        with self._lock:
            lost = self._handle_loss(actor, generation)
        for call in lost:  # calls in flight to the lost worker would wait for a timeout
            call.settle(error=RuntimeError(
                f"the Dask worker of actor {actor.class_name} was lost during the call"))

    def _handle_loss(self, actor: DaskActor, generation: str) -> list[Any]:
        """Under the lock: restart or bury the actor; returns its calls in flight (none
        if another failed call of the same generation handled the loss already)."""
        if actor.future.key != generation:
            return []
        lost = list(actor.direct)
        limit = actor.options.max_restarts
        if limit != -1 and actor.restarts >= limit:
            actor.dead = (
                f"actor {actor.class_name} is dead: its Dask worker was lost; restarted "
                f"{actor.restarts}/{limit} times; raise max_restarts to survive worker "
                "losses")
            self.client.cancel([actor.future], force=True)
            self._unpublish(actor)  # as in Ray: a dead actor's name is free again
            return lost
        actor.restarts += 1
        actor.future = actor.create()
        actor.seq = itertools.count()
        if actor.options.name is not None:
            self._publish(actor)  # the name now leads to the new incarnation
        return lost

    def kill(self, handle: Any, no_restart: bool) -> None:
        actor = self.actors.get(handle._actor_id)
        future = actor.future if actor is not None else self.backend.future_of(handle._keepalive)
        if actor is not None:
            actor.dead = (f"actor {actor.class_name} is dead: it was killed with ember.kill; "
                          "create a new actor")
        # Whichever process made it: its names are free again.
        for space, name in self.client.run_on_scheduler(_forget_actor, handle._actor_id):
            with contextlib.suppress(KeyError):  # unpublished when it died
                self.client.unpublish_dataset(_dataset(space, name))
        self.client.cancel([future], force=True)

    def kill_group(self, group_id: int) -> None:
        """Actors placed in a removed placement group end with it."""
        for actor in self.actors.values():
            group = actor.options.placement_group
            if group is not None and group.id == group_id and not actor.dead:
                actor.dead = (f"actor {actor.class_name} is dead: its placement group was "
                              "removed; create it in a new group")
                self.client.cancel([actor.future], force=True)

    # -- names --------------------------------------------------------------------------------
    def _publish(self, actor: DaskActor) -> None:
        """Record the actor's name on the scheduler, leading to its current incarnation
        (published again after each restart)."""
        options = actor.options
        space, detached = options.namespace or "default", options.lifetime == "detached"
        if detached:  # the scheduler holds it, not only this session's client
            self.client.publish_dataset(actor.future, name=_dataset(space, options.name),
                                        override=True)
        elif (space, options.name) not in self._names:
            self._names.append((space, options.name))
        self.client.set_metadata(
            [_METADATA, space, options.name],
            (actor.actor_id, actor.class_name, pickle.dumps(actor.methods), actor.future.key,
             self.client.id, detached,  # methods as bytes: msgpack cannot encode them
             options.max_restarts != 0))

    def _unpublish(self, actor: DaskActor) -> None:
        """The actor is dead or killed: its name is free again."""
        name = actor.options.name
        if name is None:
            return
        space = actor.options.namespace or "default"
        try:
            if actor.options.lifetime == "detached":
                self.client.unpublish_dataset(_dataset(space, name))
            self.client.run_on_scheduler(_forget_name, space, name, self.client.id)
        except Exception:  # noqa: BLE001,S110 - the dataset is gone already, or the scheduler
            pass

    def release_names(self) -> None:
        """At shutdown: this session's (not detached) names are free again."""
        for space, name in self._names:
            try:
                self.client.run_on_scheduler(_forget_name, space, name, self.client.id)
            except Exception:  # noqa: BLE001,S110 - the scheduler may be gone already
                pass
        self._names.clear()

    def _lookup(self, name: str, namespace: str | None) -> ActorHandle[Any] | None:
        space = namespace or "default"
        record = self.client.run_on_scheduler(_live_name, space, name)
        if record is None:
            return None
        actor_id, class_name, methods_blob, key = record[:4]
        methods = pickle.loads(methods_blob)
        # _live_name judged the actor alive (or being restarted by its owner).
        return ActorHandle._make(actor_id, class_name, methods, ObjectRef._make(
            key, self.backend, counted=False))

    def get(self, name: str, namespace: str | None) -> ActorHandle[Any]:
        handle = self._lookup(name, namespace)
        if handle is None:
            raise ValueError(
                f"no actor named {name!r} in namespace {namespace or 'default'!r}")
        return handle


def _dataset(namespace: str, name: str) -> str:
    return f"ember-actor-{namespace}-{name}"


def _live_name(namespace: str, name: str,
               dask_scheduler: Any = None) -> tuple[Any, ...] | None:
    """Runs on the scheduler: the record of a name, unless its session is gone (a name
    that is not detached dies with its driver's client) or its actor is, in which case
    it is dropped."""
    names = dask_scheduler.task_metadata.get(_METADATA, {}).get(namespace, {})
    record = names.get(name)
    if record is None:
        return None
    key, owner, detached, restartable = record[3], record[4], record[5], record[6]
    owner_here = owner in dask_scheduler.clients
    if not detached and not owner_here:
        del names[name]
        return None
    task = dask_scheduler.tasks.get(key)
    if task is None or task.state in ("erred", "forgotten"):
        # Its worker was lost. The owner re-creates a restartable actor and publishes
        # the new incarnation; otherwise (or with no owner left to do so) the name is free.
        if restartable and owner_here:
            return tuple(record)
        del names[name]
        return None
    return tuple(record)


def _forget_name(namespace: str, name: str, owner: str, dask_scheduler: Any = None) -> None:
    """Runs on the scheduler: drop a name if ``owner`` made it (not a later session's)."""
    names = dask_scheduler.task_metadata.get(_METADATA, {}).get(namespace, {})
    record = names.get(name)
    if record is not None and record[4] == owner:
        del names[name]


def _blamed_key(key: str, dask_scheduler: Any = None) -> str | None:
    """Runs on the scheduler: the key whose failure failed ``key`` (itself if it ran)."""
    task = dask_scheduler.tasks.get(key)
    blame = getattr(task, "exception_blame", None) if task is not None else None
    return None if blame is None else str(blame.key)


def _forget_actor(actor_id: str, dask_scheduler: Any = None) -> list[tuple[str, str]]:
    """Runs on the scheduler: drop every name of the actor; returns the detached ones
    (their datasets are to be unpublished too)."""
    detached = []
    for namespace, names in dask_scheduler.task_metadata.get(_METADATA, {}).items():
        for name, record in list(names.items()):
            if record[0] == actor_id:
                del names[name]
                if record[5]:
                    detached.append((namespace, name))
    return detached

