"""``@ember.remote`` functions: ``f.remote(...)`` submits, ``f.options(...)`` overrides."""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, cast

from . import _context
from ._object_ref import ObjectRef
from ._options import TaskOptions, replace_checked
from ._serialization import dumps_function

P = ParamSpec("P")
R = TypeVar("R")

_ids = itertools.count(1)
_id_lock = threading.Lock()


def short_name(name: str) -> str:
    """``test.<locals>.square`` -> ``square``: a task's name as its author knows it."""
    return name.rsplit("<locals>.", 1)[-1]


def _new_function_id() -> int:
    # Unique across processes: a worker defining a remote function must not collide
    # with the driver's ids.
    with _id_lock:
        return (os.getpid() << 32) | next(_ids)


class _Shipped:
    """The function's pickled bytes, made once and shared by every ``.options()`` copy."""

    __slots__ = ("_blob", "_lock", "function", "function_id")

    def __init__(self, function: Callable[..., Any], function_id: int, blob: bytes | None = None):
        self.function = function
        self.function_id = function_id
        self._blob = blob
        self._lock = threading.RLock()

    def blob(self) -> bytes:
        if self._blob is None:
            with self._lock:
                if self._blob is None:
                    self._blob = dumps_function(self.function, self.function.__qualname__)
        return self._blob


class RemoteFunction(Generic[P, R]):
    """A function that runs as a task on the cluster.

    Example::

        @ember.remote
        def add(a, b):
            return a + b

        assert ember.get(add.remote(1, 2)) == 3
    """

    def __init__(self, function: Callable[P, R], options: TaskOptions,
                 shipped: _Shipped | None = None):
        self._function = function
        self._options = options
        self._shipped = shipped or _Shipped(function, _new_function_id())
        functools.update_wrapper(self, function)

    @property
    def name(self) -> str:
        return self._options.name or self._function.__qualname__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"remote function {self._function.__qualname__!r} cannot be called directly; "
            f"use {self._function.__name__}.remote(...) to run it as a task (the plain "
            f"function is {self._function.__name__}._function)")

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Submit the task; returns an ObjectRef (a list of them for ``num_returns > 1``).

        Args:
            *args: positional arguments of the function; top-level ObjectRefs arrive as
                their values (the task waits for them), nested ones as refs (Ray's rule).
            **kwargs: keyword arguments of the function, resolved the same way.

        Returns:
            An ObjectRef; a list of ``num_returns`` refs, None for ``num_returns=0``,
            or an ``ObjectRefGenerator`` for ``num_returns="streaming"``.
        """
        refs = _context.current().submit(self, args, kwargs, self._options)
        count = self._options.num_returns
        if count == 1 or count == "streaming":
            return refs[0]  # a ref, or the ObjectRefGenerator of a streaming task
        return refs if cast(int, count) > 1 else None  # validated: no other str

    def options(self, **overrides: Any) -> RemoteFunction[P, R]:
        """A copy with some options replaced, e.g. ``f.options(num_cpus=2).remote()``.

        Args:
            **overrides: task options, as for ``@ember.remote`` (``num_cpus``,
                ``num_gpus``, ``resources``, ``max_retries``, ``retry_exceptions``,
                ``num_returns``, ``name``, ``placement_group``,
                ``placement_group_bundle_index``, ``scheduling_strategy``,
                ``generator_backpressure_num_objects``); the others keep their values.
                An unknown name raises ``ValueError``.

        Returns:
            A new ``RemoteFunction``; this one is unchanged.
        """
        options = replace_checked(self._options, f"remote function {self.name!r}", overrides)
        return RemoteFunction(self._function, options, self._shipped)

    def __reduce__(self) -> tuple[Any, ...]:
        # The plain function, not its blob: cloudpickle's memo then handles a function
        # that refers to its own remote wrapper (recursion) without looping.
        return (_rebuild, (self._shipped.function_id, self._function, self._options))

    def __repr__(self) -> str:
        return f"<ember remote function {self.name}>"


def _rebuild(function_id: int, function: Callable[..., Any],
             options: TaskOptions) -> RemoteFunction[Any, Any]:
    return RemoteFunction(function, options, _Shipped(function, function_id))


ObjectRefList = list[ObjectRef[Any]]
