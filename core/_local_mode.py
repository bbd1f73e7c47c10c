"""``init(local_mode=True)``: every task runs at once, in the calling thread.

Nothing is parallel, so ``pdb`` and print debugging work inside tasks. Values still go
through serialization, so mutating an argument after ``put`` behaves as it would on
the real engine.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import threading
import time
from typing import Any

from . import _serialization
from ._backend import LocalRefCounts
from ._object_ref import ObjectRef
from ._options import InitOptions, TaskOptions
from ._remote_error import capture
from ._scheduler import fits
from .exceptions import InfeasibleResourcesError


class LocalModeBackend(LocalRefCounts):
    def __init__(self, options: InitOptions):
        super().__init__()
        cpus = float(options.num_cpus if options.num_cpus is not None else os.cpu_count() or 1)
        self.totals = {"CPU": cpus, "GPU": float(options.num_gpus or 0),
                       **{k: float(v) for k, v in options.resources.items()}}
        self._objects: dict[int, tuple[bool, Any]] = {}  # id -> (is_error, value)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._events: list[dict[str, Any]] = []
        self.alive = True

    def _first_local_ref(self, object_id: int) -> None:
        """Values hold their refs as Python objects, so nothing to count."""

    def _last_local_ref(self, object_id: int) -> None:
        self._objects.pop(object_id, None)

    def _store(self, is_error: bool, value: Any) -> ObjectRef:
        object_id = next(self._ids)
        self._objects[object_id] = (is_error, value)
        return ObjectRef._make(object_id, self, counted=True)

    def _copy(self, value: Any) -> Any:
        serialized = _serialization.dumps(value)
        return _serialization.loads(serialized.header, [bytes(b) for b in serialized.buffers])

    def submit(self, function: Any, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]:
        demand = options.resource_demand()
        if not fits(self.totals, demand):
            raise InfeasibleResourcesError(
                f"task {function.name!r} needs {demand} but the cluster has {self.totals}")
        args = tuple(self._resolve(a) for a in args)
        kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
        count = max(options.num_returns, 1)
        start = time.time()
        try:
            with self._lock:
                value = function._function(*self._copy(args), **self._copy(kwargs))
            values = [value] if count == 1 else list(value)
            if len(values) != count:
                raise ValueError(
                    f"task {function.name} has num_returns={count} but returned {len(values)} values")
            refs = [self._store(False, self._copy(v)) for v in values]
        except Exception as error:
            failure = capture(error, function.name).to_exception()
            refs = [self._store(True, failure) for _ in range(count)]
        self._events.append({"name": function.name, "cat": "task", "ph": "X",
                             "ts": start * 1e6, "dur": (time.time() - start) * 1e6,
                             "pid": "ember", "tid": "local mode"})
        return refs[:options.num_returns]

    def _resolve(self, value: Any) -> Any:
        return self.get([value], None)[0] if type(value) is ObjectRef else value

    def put(self, value: Any) -> ObjectRef:
        return self._store(False, self._copy(value))

    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]:
        values = []
        for ref in refs:
            is_error, value = self._objects[ref._id]
            if is_error:
                raise value
            values.append(value)
        return values

    def wait(self, refs: list[ObjectRef], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef], list[ObjectRef]]:
        return list(refs[:num_returns]), list(refs[num_returns:])

    def cancel(self, ref: ObjectRef, force: bool) -> None:
        """Tasks finished when submitted; there is nothing left to cancel."""

    def as_concurrent_future(self, ref: ObjectRef) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(self.get([ref], None)[0])
        except Exception as error:  # handed to the awaiting caller
            future.set_exception(error)
        return future

    def cluster_resources(self) -> dict[str, float]:
        return {k: v for k, v in self.totals.items() if v or k == "CPU"}

    def available_resources(self) -> dict[str, float]:
        return self.cluster_resources()

    def timeline_events(self) -> list[dict[str, Any]]:
        return list(self._events)

    def is_alive(self) -> bool:
        return self.alive

    def shutdown(self) -> None:
        self.alive = False
        self._objects.clear()


