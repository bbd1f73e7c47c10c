"""The cluster backend: Ember's API on a running Dask distributed cluster.

    ember.init(address="tcp://host:8786")      connect to a scheduler
    ember.init(backend="dask", num_cpus=N)     start a LocalCluster of N worker processes

    f.remote()  -> client.submit(run_task, ..., pure=False)   (ObjectRef id = Dask key)
    put         -> client.scatter([value], direct=True)   (straight to a worker)
    get / wait  -> distributed.wait + gather(direct=True), errors mapped to Ember's types

Gaps bridged here: identical calls are never deduplicated (pure=False); only top-level
refs are resolved (everything else travels in a blob Dask does not traverse); a
request no worker can ever satisfy raises at once instead of waiting forever; a ref
pickled into a message is kept alive for a grace period so the receiver can attach.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, cast

import cloudpickle  # type: ignore[import-untyped]

from .. import _last_trace
from .._backend import LocalRefCounts
from .._generator import ObjectRefGenerator
from .._object_ref import ObjectRef
from .._options import InitOptions, TaskOptions
from .._task_args import Slot, split_args
from ..exceptions import (
    ActorDiedError,
    EmberError,
    GetTimeoutError,
    NotSupportedOnBackend,
    ObjectLostError,
    TaskCancelledError,
    WorkerCrashedError,
)
from ._cancel import interrupt as interrupt_task
from ._direct import DirectCall
from ._local import LocalClusterProcess, split_resources
from ._local_modules import LocalModules
from ._output import TOPIC as OUTPUT_TOPIC
from ._output import print_event as print_output
from ._resources import ClusterResources
from ._tasks import Failed, RemoteFailure, failure_among, pick, run_stream, run_task

_CANCELLED = "ember-cancelled"
_KV = "ember-kv"
"""Scheduler metadata: keys cancelled with ember.cancel (not lost)."""
_LARGE_ARGUMENTS = 1 << 20
"""Arguments pickled bigger than this travel as their own object, not in the graph."""
_TRANSFER_GRACE_S = 60.0
"""How long a ref pickled into a message keeps its object alive for the receiver."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "the dask backend needs dask.distributed: pip install 'ember[dask]'") from error
    return distributed


class DaskBackend(LocalRefCounts):
    """Implements the Backend protocol with a ``distributed.Client``."""

    def __init__(self, client: Any, cluster: Any = None, owns_client: bool = True,
                 log_to_driver: bool = True):
        super().__init__()
        self.distributed = _import_distributed()
        self.client = client
        self.address = str(client.scheduler.address)
        self.direct = True  # see _direct
        self.cluster = cluster
        self.owns_client = owns_client
        self.futures: dict[str, Any] = {}           # key -> Future this process holds
        self.resources = ClusterResources(client)
        self._in_transit: collections.deque[tuple[float, Any]] = collections.deque()
        self._held_args: dict[str, list[Any]] = {}  # task key -> nested-ref futures
        self._lock = threading.RLock()
        self._materializing = threading.Lock()  # one scatter per direct actor call
        self.started = time.time()
        self.alive = True
        from ._actor_directory import DaskActorDirectory
        from ._groups import DaskGroups

        if owns_client:
            client.run_on_scheduler(_record_task_stream)  # for ember.timeline()
            if log_to_driver:  # what tasks print on the workers, printed here
                client.subscribe_topic(OUTPUT_TOPIC, print_output)
        self.actors = DaskActorDirectory(self)
        self.groups = DaskGroups(self)
        self.local_modules = LocalModules() if owns_client else None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def start(cls, options: InitOptions) -> DaskBackend:
        distributed = _import_distributed()
        if options.address is not None:
            address = options.address.removeprefix("dask://")
            if "://" not in address:
                address = f"tcp://{address}"
            try:
                client = distributed.Client(address, set_as_default=False, timeout=10,
                                            security=options.security)
            except OSError as error:
                raise EmberError(
                    f"could not reach a Dask scheduler at {address}: {error}. Start one with "
                    "`dask scheduler` (and `dask worker <address>`), or check the address "
                    "and port") from error
            return cls(client, log_to_driver=options.log_to_driver)
        workers = int(options.num_cpus or os.cpu_count() or 1)
        resources: dict[str, float] = {}  # CPUs are the workers' threads
        if options.num_gpus:
            resources["GPU"] = float(options.num_gpus)
        resources.update({k: float(v) for k, v in options.resources.items()})
        security = options.security
        if security is None or security is True:
            # Temporary certificates, held by this client and the cluster only: another
            # local user who finds the port cannot connect (loopback alone would let them).
            from distributed.security import Security

            security = Security.temporary()  # type: ignore[no-untyped-call]
        elif security is False:
            security = None
        # In a process of its own (no __main__ guard needed in the user's script), every
        # listener on loopback only, over TLS.
        cluster = LocalClusterProcess(split_resources(resources, max(workers, 1)), security)
        try:
            client = distributed.Client(cluster.address, set_as_default=False, timeout=30,
                                        security=security)
        except BaseException:
            cluster.close()
            raise
        return cls(client, cluster, log_to_driver=options.log_to_driver)

    @classmethod
    def attach(cls, client: Any) -> DaskBackend:
        """The backend of a process that already has a client (a Dask worker)."""
        return cls(client, owns_client=False)

    # -- references -----------------------------------------------------------------------
    def _first_local_ref(self, key: str) -> None:  # type: ignore[override]  # see _key
        if key not in self.futures:
            self.futures[key] = self._attach(key)

    def _attach(self, key: str) -> Any:
        """A Future for a key made elsewhere. A bare ``Future(key)`` never learns its
        state: the scheduler only reports keys a client says it wants (the message
        ``fire_and_forget`` also sends), so say so."""
        future = self.distributed.Future(key, self.client)
        self.client._send_to_scheduler({"op": "client-desires-keys", "keys": [key]})
        return future

    def _last_local_ref(self, key: str) -> None:  # type: ignore[override]  # see _key
        self.futures.pop(key, None)

    def note_pickled(self, key: str) -> None:
        """A ref is on its way to another process: keep its object for a while."""
        future = self.futures.get(key)
        if future is None:
            return
        future = self._on_cluster(future)
        now = time.monotonic()
        with self._lock:
            self._in_transit.append((now + _TRANSFER_GRACE_S, future))
            while self._in_transit and self._in_transit[0][0] < now:
                self._in_transit.popleft()

    def _ref(self, future: Any) -> ObjectRef[Any]:
        self.futures[future.key] = future
        return ObjectRef._make(future.key, self, counted=True)

    ref_for = _ref

    def future_of(self, ref: ObjectRef[Any]) -> Any:
        return self._future(ref)

    def future_by_key(self, key: str) -> Any:
        future = self.futures.get(key)
        return future if future is not None else self._attach(key)

    def _future(self, ref: ObjectRef[Any]) -> Any:
        if ref._runtime is not self or not self.alive:
            from .._context import stale_ref_error

            raise stale_ref_error(ref)
        key = _key(ref)
        future = self.futures.get(key)
        if future is None:
            future = self.futures[key] = self._attach(key)
        return future

    # -- tasks ------------------------------------------------------------------------------
    def submit(self, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
               options: TaskOptions) -> Sequence[ObjectRef[Any] | ObjectRefGenerator]:
        where = self.constraints(options, f"task {function.name!r}")
        args_blob, slots, inputs = self.task_inputs(args, kwargs)
        name = function.name
        key = f"{name.rsplit('.', 1)[-1]}-{uuid.uuid4().hex}"
        if options.streaming:
            return [self._stream(function, name, key, args_blob, slots, inputs, where,
                                 options.generator_backpressure_num_objects)]
        future = self.client.submit(
            run_task, function._shipped.blob(), name, args_blob, slots, *inputs, key=key,
            pure=False, retries=self._retries(options, name), **where)
        self._hold_nested(future, self._nested)
        return self.split_returns(future, options.num_returns, name)

    def constraints(self, options: Any, what: str) -> dict[str, Any]:
        """Dask's ``resources=`` (and ``workers=`` inside a placement group) for a call;
        raises InfeasibleResourcesError if the cluster can never run it."""
        self.check_connected()
        demand = options.resource_demand()
        if options.placement_group is not None:
            return self.groups.constraints(options, demand, what)
        return {"resources": self.resources.placement(demand, what)}

    def _stream(self, function: Any, name: str, key: str, args_blob: Any, slots: list[Slot],
                inputs: list[Any], where: dict[str, Any],
                backpressure: int) -> ObjectRefGenerator:
        """A generator task whose items reach us through a Dask queue as they are made."""
        queue_name = f"ember-stream-{key}"
        self.distributed.Queue(queue_name, client=self.client, maxsize=backpressure)
        future = self.client.submit(
            run_stream, function._shipped.blob(), name, args_blob, slots, queue_name,
            *inputs, key=key, pure=False, **where)
        return ObjectRefGenerator._make(queue_name, self._ref(future), self)

    def task_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                    ) -> tuple[Any, list[Slot], list[Any]]:
        """(arguments blob without top-level refs, their slots, their futures); the blob
        is bytes, or the Future of bytes sent to a worker when they are large."""
        if self.local_modules is not None:  # before any user code or value is pickled
            self.local_modules.register_new()
        serialized, ref_slots = split_args(args, kwargs)
        self._nested = cast("list[str]", serialized.contained_refs)  # ids are keys here
        inputs = [self._on_cluster(self._future(arg)) for arg in (*args, *kwargs.values())
                  if type(arg) is ObjectRef]
        slots = [slot for slot, _ in ref_slots]
        blob: Any = _blob(args, kwargs, slots)
        if len(blob) > _LARGE_ARGUMENTS:
            # Never inside the task graph, which the scheduler holds and forwards: send
            # the bytes to a worker and pass their future (Dask resolves it in place).
            [blob] = self._direct(self.client.scatter, [blob], hash=False)
        return blob, slots, inputs

    def _on_cluster(self, future: Any) -> Any:
        """A Dask Future for ``future``: a direct actor call's value is sent to the
        cluster under the call's key first (waiting for it; other processes need it)."""
        if type(future) is not DirectCall:
            return future
        with self._materializing:
            if future.materialized is None:
                error = future.exception()
                if error is not None:
                    value: Any = Failed(self._translate(error, future.key))
                else:
                    value = future.result()
                scattered = self._direct(self.client.scatter, {future.key: value}, hash=False)
                future.materialized = scattered[future.key]
            self.futures[future.key] = future.materialized
            return future.materialized

    def split_returns(self, future: Any, num_returns: Any, name: str) -> list[ObjectRef[Any]]:
        """Refs for a call's results: the future itself, or one getitem task per value."""
        count = int(num_returns)
        if count <= 1:
            return [self._ref(future)][:count]
        return [self._ref(self.client.submit(pick, future, index, count, name,
                                             key=f"{future.key}-{index}", pure=False))
                for index in range(count)]

    def _retries(self, options: TaskOptions, name: str) -> int:
        # A dead worker's tasks are re-run by Dask itself (distributed.scheduler.allowed-
        # failures); Dask's own `retries` re-runs on exceptions, which is
        # retry_exceptions=True.
        if options.retry_exceptions is True:
            return max(options.max_retries, 0)
        if options.retry_exceptions:
            raise NotSupportedOnBackend(
                f"task {name!r}: retry_exceptions=[types] is not available on the dask "
                "backend (Dask retries on any exception); use retry_exceptions=True")
        return 0

    def _hold_nested(self, future: Any, keys: list[str]) -> None:
        """Keep refs nested in the arguments alive until the task is over."""
        if not keys:
            return
        held = [self.futures[key] for key in keys if key in self.futures]
        self._held_args[future.key] = held
        future.add_done_callback(lambda done: self._held_args.pop(done.key, None))

    # -- objects ----------------------------------------------------------------------------
    def put(self, value: Any) -> ObjectRef[Any]:
        if self.local_modules is not None:
            self.local_modules.register_new()
        with self.scheduler_calls():
            [future] = self._direct(self.client.scatter, [value], hash=False)
        return self._ref(future)

    def _direct(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``scatter``/``gather`` straight between this process and the workers (as fast
        as the network allows, and the scheduler never holds the bytes); through the
        scheduler when the workers cannot be reached from here (e.g. only the scheduler
        is exposed), remembered for the rest of the session."""
        if self.direct:
            try:
                return call(*args, direct=True, **kwargs)
            except OSError:
                if self.client.status != "running":
                    raise
                self.direct = False
        return call(*args, direct=False, **kwargs)

    def get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]:
        with self.scheduler_calls():
            return self._get(refs, timeout)

    def _get(self, refs: list[ObjectRef[Any]], timeout: float | None) -> list[Any]:
        futures = [self._future(ref) for ref in refs]
        with self._thread_released():
            finished = _wait_for(futures, len(futures), timeout)
        if not finished:
            pending = sum(not f.done() for f in futures)
            raise GetTimeoutError(
                f"ember.get timed out after {timeout}s; {pending} of {len(futures)} object(s) "
                "were not ready. Raise timeout=, or use ember.wait to poll") from None
        for future in futures:  # the first failure in list order, as on the local engine
            if future.status in ("error", "cancelled"):
                raise self._error(future)
        try:
            on_cluster = [f for f in futures if type(f) is not DirectCall]
            gathered = iter(self._direct(self.client.gather, on_cluster) if on_cluster else ())
            values = [f.result() if type(f) is DirectCall else next(gathered) for f in futures]
        except Exception as error:  # raced with a cancel or a worker loss
            for future in futures:  # name the failed one (an actor call, a cancel...)
                if future.status in ("error", "cancelled", "lost"):
                    raise self._error(future) from error
            raise self._translate(error, str(futures[0].key) if len(futures) == 1 else "") \
                from error
        failed = failure_among(values)
        if failed is not None:
            raise failed.error
        return values

    @contextlib.contextmanager
    def _thread_released(self) -> Iterator[None]:
        """Inside a Dask task, leave the worker's thread pool while blocked (Ember's "a
        blocking get releases its CPU"), so the awaited work can run there."""
        seceded = False
        if not self.owns_client:
            try:
                self.distributed.secede()
                seceded = True
            except (ValueError, AttributeError, KeyError):
                pass  # not a task thread (e.g. an actor's thread): nothing to release
        try:
            yield
        finally:
            if seceded:
                self.distributed.rejoin()

    def _error(self, future: Any) -> BaseException:
        if future.status == "cancelled":
            self.check_connected()
            if str(future.key).startswith("actor-call-"):
                return ActorDiedError(f"the actor of call {future.key} was killed")
            if self.client.get_metadata([_CANCELLED, future.key], default=False):
                return TaskCancelledError(
                    f"the task {future.key} was cancelled with ember.cancel()")
            return ObjectLostError(
                f"object {future.key} was lost: the Dask worker holding it left the cluster "
                "(died or was retired) and Dask could not compute it again. A task's result "
                "is recomputed from its inputs when they still exist; an ember.put value "
                "lives only on the worker that holds it: put it again, or give workers "
                "more memory if they died of it")
        return self._translate(future.exception(), str(future.key))

    def check_connected(self) -> None:
        """Raise a clear error when the scheduler is gone (Dask says "cancelled")."""
        if self.client.status not in ("running", "newly-created"):
            raise self._connection_lost(f"client {self.client.status}")

    def _connection_lost(self, why: str) -> EmberError:
        return EmberError(
            f"lost the connection to the Dask scheduler at {self.address} ({why}); every "
            "object of this session went with it. Restart the scheduler and its workers, "
            f"then ember.shutdown() and ember.init(address={self.address!r}) again")

    @contextlib.contextmanager
    def scheduler_calls(self) -> Iterator[None]:
        """Around calls that talk to the scheduler: a closed connection (OSError, or
        RuntimeError from a closed connection pool) becomes one clear error."""
        try:
            yield
        except EmberError:
            raise
        except (OSError, RuntimeError) as error:
            if self.client.status == "running" and not isinstance(error, OSError) and \
                    "closed" not in str(error):
                raise
            raise self._connection_lost(f"{type(error).__name__}: {error}") from error

    def _translate(self, error: BaseException, key: str = "") -> BaseException:
        if isinstance(error, TaskCancelledError):  # a direct actor call cancelled here
            return error
        if isinstance(error, RemoteFailure):
            if error.record.function_name.endswith(".__init__"):
                return ActorDiedError(
                    f"actor {error.record.function_name[:-9]} is dead: its constructor "
                    f"raised:\n{error.record.traceback_text}Fix the error in __init__")
            return error.record.to_exception()
        if key.startswith("actor-call-"):
            return ActorDiedError(
                f"the actor behind call {key} is unavailable: {type(error).__name__}: "
                f"{error}. Its Dask worker was probably lost; raise max_restarts to let "
                "Ember re-create it")
        name = type(error).__name__
        if name == "KilledWorker":
            return WorkerCrashedError(
                f"{error}. The workers running this task died repeatedly; Dask gave up "
                "after distributed.scheduler.allowed-failures attempts. If they run out of "
                "memory, give them more or run fewer tasks at once")
        if name == "CancelledError" or isinstance(error, concurrent.futures.CancelledError):
            return TaskCancelledError(f"the task was cancelled: {error}")
        return error

    def wait(self, refs: list[ObjectRef[Any]], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
        futures = {ref._id: self._future(ref) for ref in refs}
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while True:
            done = [ref for ref in refs if futures[ref._id].done()]
            if len(done) >= num_returns:
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            # Poll rather than add a callback to every pending future on each call: a
            # caller looping over wait(num_returns=1) would pile up callbacks.
            with self._thread_released():
                time.sleep(min(pause, remaining) if remaining is not None else pause)
            pause = min(pause * 2, 0.01)
        chosen = {ref._id for ref in done[:num_returns]}
        return ([r for r in refs if r._id in chosen],
                [r for r in refs if r._id not in chosen])

    def cancel(self, ref: ObjectRef[Any], force: bool) -> None:
        """Cancel the future; if it is running, interrupt it where it runs: a
        KeyboardInterrupt raised in its thread (taking effect at the next Python
        instruction, so after a blocking call returns), or with ``force`` the worker
        process is killed (Dask re-runs nothing: the key is cancelled)."""
        future = self._future(ref)
        key = future.key
        if type(future) is DirectCall:  # already on the actor's worker: it runs, we stop waiting
            future.settle(error=TaskCancelledError(
                f"the actor call {key} was cancelled with ember.cancel()"))
            return
        running_on = [address for address, keys in self.client.processing().items()
                      if key in keys]  # before cancelling: then the scheduler forgets it
        # Remembered where every process looks, so a get anywhere tells a cancel from a
        # loss (Dask reports both as "cancelled").
        self.client.set_metadata([_CANCELLED, key], True)
        self.client.cancel([future], force=True)
        if running_on and force:
            self.client.run(_kill_worker, key, workers=running_on, wait=False)
        else:
            # To every worker: the task may have started after `processing()` answered
            # (the graph and that call travel apart); a worker that has not started it
            # yet remembers the key and never runs it (see _dask_tasks.run_task).
            self.client.run(interrupt_task, key)

    def as_concurrent_future(self, ref: ObjectRef[Any]) -> concurrent.futures.Future[Any]:
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def fetch() -> None:
            try:
                result.set_result(self.get([ref], None)[0])
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller
                result.set_exception(error)

        threading.Thread(target=fetch, daemon=True).start()
        return result

    # -- not (yet) on Dask ----------------------------------------------------------------------
    def _unsupported(self, what: str) -> NotSupportedOnBackend:
        return NotSupportedOnBackend(
            f"{what} is not available on the dask backend yet; use the embedded engine "
            "(ember.init() without address=) for it")

    def create_actor(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: Any) -> Any:
        return self.actors.create(actor_class, args, kwargs, options)

    def call_actor(self, handle: Any, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], num_returns: Any) -> Any:
        return self.actors.call(handle, method, args, kwargs, num_returns)

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        self.actors.kill(handle, no_restart)

    def get_actor(self, name: str, namespace: str | None) -> Any:
        return self.actors.get(name, namespace)

    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> Any:
        return self.groups.create(bundles, strategy, name)

    def remove_placement_group(self, group: Any) -> None:
        self.actors.kill_group(group.id)
        self.groups.remove(group)

    def stream_next(self, queue_name: str, index: int, timeout: float | None) -> Any:
        queue = self.distributed.Queue(queue_name, client=self.client)
        try:
            with self._thread_released():
                item = queue.get(timeout=timeout)
        except TimeoutError:
            raise GetTimeoutError(f"no new item from the stream within {timeout}s") from None
        if isinstance(item, (list, tuple)):  # the end marker or an error, not a future
            if item[0] == "end":
                raise StopIteration
            import pickle

            raise pickle.loads(item[1]).to_exception()
        return self._ref(item)

    def stream_release(self, queue_name: str) -> None:
        """Items left in the queue are dropped with it when the session ends."""

    # -- information and lifecycle ------------------------------------------------------------
    def cluster_resources(self) -> dict[str, float]:
        return self.resources.total()

    def available_resources(self) -> dict[str, float]:
        return self.resources.available()

    def kv_put(self, key: str, value: bytes | None) -> None:
        """Kept in the scheduler's metadata: it outlives the process that wrote it."""
        self.client.set_metadata([_KV, key], value)

    def kv_get(self, key: str) -> bytes | None:
        value = self.client.get_metadata([_KV, key], default=None)
        return None if value is None else bytes(value)

    def timeline_events(self) -> list[dict[str, Any]]:
        """Dask's task stream since the session started, as Chrome trace events."""
        events = []
        for record in self.client.get_task_stream(start=self.started):
            for part in record.get("startstops", ()):
                if part.get("action") != "compute":
                    continue
                events.append({
                    "name": record["key"] if isinstance(record["key"], str) else str(record["key"]),
                    "cat": "task", "ph": "X", "ts": part["start"] * 1e6,
                    "dur": (part["stop"] - part["start"]) * 1e6, "pid": "ember",
                    "tid": record.get("worker", "worker")})
        return events

    def is_alive(self) -> bool:
        return self.alive

    def shutdown(self) -> None:
        if not self.alive:
            return
        try:  # for `ember timeline`; a lost scheduler has no trace to give
            _last_trace.save(self.timeline_events(), "dask")
        except Exception:  # noqa: BLE001,S110 - whatever failed, shutdown goes on
            pass
        self.alive = False
        self.futures.clear()
        self._held_args.clear()
        self._in_transit.clear()
        if self.owns_client:
            self.actors.close()
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


async def _kill_worker(key: str, dask_worker: Any = None) -> None:
    """Runs on a worker: end this worker process at once (cancel with force=True)."""
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _record_task_stream(dask_scheduler: Any) -> None:
    """Runs on the scheduler: keep a task stream (it is only on with the dashboard)."""
    from distributed.diagnostics.task_stream import TaskStreamPlugin

    if TaskStreamPlugin.name not in dask_scheduler.plugins:
        dask_scheduler.add_plugin(TaskStreamPlugin(dask_scheduler))  # type: ignore[no-untyped-call]


def _wait_for(futures: list[Any], count: int, timeout: float | None) -> bool:
    """Block until ``count`` of ``futures`` are done (True) or ``timeout`` passes (False).

    Uses the futures' own callbacks, so it needs no default Dask client.
    """
    pending = [f for f in futures if not f.done()]
    needed = count - (len(futures) - len(pending))
    if needed <= 0:
        return True
    done = threading.Event()
    lock = threading.Lock()
    state = {"needed": needed}

    def one_done(_: Any) -> None:
        with lock:
            state["needed"] -= 1
            if state["needed"] <= 0:
                done.set()

    for future in pending:
        future.add_done_callback(one_done)
    return done.wait(timeout)


def _blob(args: tuple[Any, ...], kwargs: dict[str, Any], slots: list[Slot]) -> bytes:
    """The arguments with top-level refs taken out (Dask passes those resolved)."""
    plain_args = [None if type(a) is ObjectRef else a for a in args]
    plain_kwargs = {k: (None if type(v) is ObjectRef else v) for k, v in kwargs.items()}
    blob: bytes = cloudpickle.dumps((plain_args, plain_kwargs), protocol=5)
    return blob


def _key(ref: ObjectRef[Any]) -> str:
    """A ref's Dask key: on this backend an object's id is its key, a str (the
    embedded engine's ids are ints, which is what ``ObjectRef._id`` declares)."""
    return cast(str, ref._id)
