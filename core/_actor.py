"""Actors: ``@ember.remote`` on a class; ``A.remote()`` starts one in its own process.

A handle keeps the actor alive: the actor ends when its last handle anywhere (driver,
tasks, other actors, objects) is gone, unless it was created with
``lifetime="detached"``. Handles are picklable and can be passed to tasks and actors.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from . import _context
from ._object_ref import ObjectRef, id_text
from ._options import ActorOptions, replace_checked
from ._remote_function import _new_function_id, _Shipped

if TYPE_CHECKING:
    from collections.abc import Sequence

T = TypeVar("T")


@dataclass(frozen=True)
class MethodInfo:
    num_returns: int | str = 1
    is_async: bool = False
    is_generator: bool = False


def method(*, num_returns: int | str = 1) -> Any:
    """Declare an actor method's default ``num_returns`` (like ``ray.method``).

    Example::

        @ember.remote
        class Splitter:
            @ember.method(num_returns=2)
            def split(self, x):
                return x, -x

    Args:
        num_returns: how many ObjectRefs ``handle.method.remote()`` returns: 1 (the
            default) a single ref, 0 returns None, n > 1 a list of n refs (the method
            returns n values), ``"streaming"`` an ``ObjectRefGenerator`` over a
            generator method's items. ``handle.method.options(num_returns=...)``
            overrides it per call.
    """
    def mark(function: Any) -> Any:
        function.__ember_num_returns__ = num_returns
        return function
    return mark


def _method_table(cls: type) -> dict[str, MethodInfo]:
    table: dict[str, MethodInfo] = {}
    for name, member in inspect.getmembers(cls, predicate=callable):
        if name.startswith("__") and name != "__call__":
            continue
        function = inspect.unwrap(member)
        table[name] = MethodInfo(
            num_returns=getattr(function, "__ember_num_returns__", 1),
            is_async=inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function),
            is_generator=inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function))
    return table


class ActorClass(Generic[T]):
    """A class whose instances run in their own worker process.

    Example::

        @ember.remote
        class Counter:
            def __init__(self):
                self.n = 0
            def incr(self):
                self.n += 1
                return self.n

        counter = Counter.remote()
        assert ember.get(counter.incr.remote()) == 1
    """

    def __init__(self, cls: type[T], options: ActorOptions, shipped: _Shipped | None = None):
        self._cls = cls
        self._options = options
        self._shipped = shipped or _Shipped(cls, _new_function_id())
        self._methods = _method_table(cls)
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__doc__ = cls.__doc__

    @property
    def is_async(self) -> bool:
        return any(info.is_async for info in self._methods.values())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"actor class {self._cls.__name__!r} cannot be instantiated directly; use "
            f"{self._cls.__name__}.remote(...) to start an actor")

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle[T]:
        """Start the actor (its ``__init__`` runs in a new worker process).

        Args:
            *args: positional arguments of the class's ``__init__``; top-level
                ObjectRefs arrive as their values, nested ones as refs (Ray's rule).
            **kwargs: keyword arguments of ``__init__``, resolved the same way.

        Returns:
            The new actor's ``ActorHandle`` (with ``get_if_exists=True`` and a
            taken ``name``, the existing actor's). Errors in ``__init__`` surface
            as ``ActorDiedError`` on the actor's calls.
        """
        return _context.current().create_actor(self, args, kwargs, self._options)

    def options(self, **overrides: Any) -> ActorClass[T]:
        """A copy with some actor options replaced, e.g. ``A.options(name="a").remote()``.

        Args:
            **overrides: actor options, as for ``@ember.remote`` on a class
                (``num_cpus``, ``num_gpus``, ``resources``, ``max_restarts``,
                ``max_task_retries``, ``max_concurrency``, ``name``, ``namespace``,
                ``lifetime``, ``get_if_exists``, ``placement_group``,
                ``placement_group_bundle_index``, ``scheduling_strategy``); the others
                keep their values. An unknown name raises ``ValueError``.

        Returns:
            A new ``ActorClass``; this one is unchanged.
        """
        options = replace_checked(self._options, f"actor class {self._cls.__name__!r}", overrides)
        return ActorClass(self._cls, options, self._shipped)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_class, (self._shipped.function_id, self._cls, self._options))

    def __repr__(self) -> str:
        return f"<ember actor class {self._cls.__qualname__}>"


def _rebuild_class(function_id: int, cls: type, options: ActorOptions) -> ActorClass[Any]:
    return ActorClass(cls, options, _Shipped(cls, function_id))


class ActorHandle(Generic[T]):
    """A reference to a running actor; call methods with ``handle.method.remote(...)``.

    Handles come from ``ActorClass.remote()`` or ``ember.get_actor``, pickle into tasks
    and other actors, and compare equal when they name the same actor. The actor lives
    while any handle does (unless it is named or detached, as in Ray).
    """

    _actor_id: Any
    _class_name: str
    _methods: dict[str, MethodInfo]
    _keepalive: ObjectRef[Any]

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("actor handles come from ActorClass.remote() or ember.get_actor()")

    @classmethod
    def _make(cls, actor_id: int | str, class_name: str, methods: dict[str, MethodInfo],
              keepalive: ObjectRef[Any]) -> ActorHandle[Any]:
        handle = object.__new__(cls)
        handle._actor_id = actor_id
        handle._class_name = class_name
        handle._methods = methods
        handle._keepalive = keepalive  # the actor lives while a ref to this exists
        return handle

    def __getattr__(self, name: str) -> ActorMethod:
        if name.startswith("_") and name != "__call__":
            raise AttributeError(name)
        info = self._methods.get(name)
        if info is None:
            known = ", ".join(sorted(self._methods)) or "(none)"
            raise AttributeError(
                f"actor {self._class_name} has no method {name!r}; its methods are: {known}")
        return ActorMethod(self, name, info.num_returns)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ActorHandle._make,
                (self._actor_id, self._class_name, self._methods, self._keepalive))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __repr__(self) -> str:
        return f"Actor({self._class_name}, {id_text(self._actor_id)})"


class ActorMethod:
    """``handle.method``: submit with ``.remote(...)``; ``.options(num_returns=...)``."""

    def __init__(self, handle: ActorHandle[Any], name: str, num_returns: int | str):
        self._handle = handle
        self._name = name
        self._num_returns = num_returns

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Call the method on the actor.

        Args:
            *args: positional arguments of the method; top-level ObjectRefs arrive as
                their values.
            **kwargs: keyword arguments of the method, resolved the same way.

        Returns:
            An ObjectRef; a list of them, None or an ``ObjectRefGenerator``
            according to ``num_returns``.
        """
        handle = self._handle
        refs = _context.current().call_actor(handle, self._name, args, kwargs,
                                             self._num_returns)
        if self._num_returns == "streaming":
            return refs
        refs = cast("Sequence[ObjectRef[Any]]", refs)  # a generator only when streaming
        if self._num_returns == 1:
            return refs[0]
        return refs if self._num_returns else None

    def options(self, *, num_returns: int | str | None = None) -> ActorMethod:
        """This method with per-call options.

        Args:
            num_returns: an int >= 0 or ``"streaming"``, as in ``ember.method``.
                None: keep the method's default.
        """
        if num_returns is None:
            return self
        if num_returns != "streaming" and (
                isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 0):
            raise ValueError(f"num_returns must be an int >= 0 or 'streaming', got {num_returns!r}")
        return ActorMethod(self._handle, self._name, num_returns)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"actor method {self._handle._class_name}.{self._name} cannot be called directly; "
            f"use handle.{self._name}.remote(...)")
