"""What runs inside Dask workers on Ember's behalf (importable by module name there).

    client.submit(run_task, function_blob, name, args_blob, slots, *ref_futures)
        -> on a worker: attach the worker's Ember runtime, rebuild the arguments (nested
           refs stay refs), call the function, raise RemoteFailure on error

Top-level ref arguments are passed to Dask as futures, so Dask resolves them (and fails
this task with the upstream error if one of them failed); everything else travels in a
blob Dask never looks inside, so refs nested in containers are not resolved.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

from .. import _context
from .._remote_error import RemoteError, capture
from .._remote_function import short_name
from .._task_args import Slot, fill_slots
from ._cancel import current_key, interruptible
from ._output import labelled

_functions: dict[bytes, Any] = {}
_functions_lock = threading.Lock()


class RemoteFailure(Exception):
    """Carries a task's RemoteError through Dask back to the caller."""

    def __init__(self, record: RemoteError):
        super().__init__(record)
        self.record = record

    def __reduce__(self) -> tuple[Any, ...]:
        return (RemoteFailure, (self.record,))


class Failed:
    """A stored failure: the value of a ref whose call failed (e.g. a direct actor call
    whose actor died, sent to the cluster because a task needs it). ``get`` raises its
    error; a task or actor call given one as an argument does not run and its own value
    is that same failure, as in Ray."""

    def __init__(self, error: BaseException):
        self.error = error


def failure_among(resolved: Any) -> Failed | None:
    """The first argument value that is a stored failure, if any."""
    for value in resolved:
        if type(value) is Failed:
            return value
    return None


def attach_worker_runtime() -> Any:
    """The Ember backend of this Dask worker process (created on first use)."""
    from ._backend import DaskBackend

    backend = _context.current_or_none()
    if not isinstance(backend, DaskBackend):
        from distributed import get_client

        backend = DaskBackend.attach(get_client())
        _context.set_current(backend)
    return backend


def _function(blob: bytes) -> Any:
    function = _functions.get(blob)
    if function is None:
        with _functions_lock:
            function = _functions[blob] = pickle.loads(blob)
    return function


def run_task(blob: bytes, name: str, args_blob: bytes, slots: list[Slot],
             *resolved: Any) -> Any:
    """Run one Ember task inside a Dask worker."""
    failed = failure_among(resolved)
    if failed is not None:
        return failed
    try:
        attach_worker_runtime()
        function = _function(blob)
        args, kwargs = pickle.loads(args_blob)
        fill_slots(args, kwargs, list(zip(slots, resolved)))
        with interruptible(current_key()), labelled(short_name(name)):
            return function(*args, **kwargs)
    except KeyboardInterrupt:  # ember.cancel interrupted it; nobody waits for the result
        from ..exceptions import TaskCancelledError

        raise RemoteFailure(capture(TaskCancelledError("cancelled"), name)) from None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the task failed (sys.exit too)
        raise RemoteFailure(capture(error, name)) from None


def pick(values: Any, index: int, count: int, name: str) -> Any:
    """Item ``index`` of a ``num_returns=count`` task's result."""
    if type(values) is Failed:  # the task did not run: each of its values is the failure
        return values
    try:
        items = list(values)
    except TypeError:
        items = [values]
    if len(items) != count:
        error = ValueError(f"task {name} has num_returns={count} but returned "
                           f"{len(items)} value(s)")
        raise RemoteFailure(capture(error, name)) from None
    return items[index]


def run_stream(blob: bytes, name: str, args_blob: bytes, slots: list[Slot], queue_name: str,
               *resolved: Any) -> int:
    """Run a generator task: each item is scattered and its future put on a Dask queue
    as soon as it is produced (the queue's size is the back-pressure limit)."""
    from distributed import Queue, get_client

    attach_worker_runtime()
    client = get_client()
    # distributed.Queue is unannotated: Any, like the other Dask objects here.
    queue: Any = Queue(queue_name, client=client)  # type: ignore[no-untyped-call]
    produced = 0
    try:
        failed = failure_among(resolved)
        if failed is not None:
            raise failed.error
        function = _function(blob)
        args, kwargs = pickle.loads(args_blob)
        fill_slots(args, kwargs, list(zip(slots, resolved)))
        with interruptible(current_key()), labelled(short_name(name)):
            for item in function(*args, **kwargs):
                [future] = client.scatter([item], hash=False)  # type: ignore[no-untyped-call]
                queue.put(future)
                produced += 1
    except KeyboardInterrupt:  # ember.cancel: never let it reach Dask's own code
        from ..exceptions import TaskCancelledError

        record = capture(TaskCancelledError("cancelled"), name)
        queue.put(["error", pickle.dumps(record)])
        raise RemoteFailure(record) from None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the task failed (sys.exit too)
        queue.put(["error", pickle.dumps(capture(error, name))])
        raise RemoteFailure(capture(error, name)) from None
    queue.put(["end", produced])
    return produced
