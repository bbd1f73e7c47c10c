"""``DeploymentHandle``: call a deployment from Python (the driver or another replica).

    handle.method.remote(x) -> DeploymentResponse   (an ObjectRef underneath)
        await response        inside async code (a replica)
        response.result()     outside async code (the driver)
        other.remote(response) passes it on by ref, without waiting for it

Each process keeps one ``_Router`` per deployment: the replica list (fetched from the
controller, refreshed every second and after a replica dies) and the in-flight count per
replica that power-of-two-choices routing reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from typing import Any

import ember

from . import _client
from ._routing import choose

_REFRESH_S = 1.0
_RETRIES = 3


class _Router:
    def __init__(self, app: str, deployment: str):
        self.app = app
        self.deployment = deployment
        self.replicas: dict[str, Any] = {}
        self.in_flight: dict[str, int] = {}
        self.fetched_at = 0.0
        self.refreshing = False
        self.lock = threading.Lock()

    def pick(self) -> tuple[str, Any]:
        if not self.replicas:
            _client.off_loop(self.refresh)
        elif time.monotonic() - self.fetched_at > _REFRESH_S:
            self.refresh_in_background()
        with self.lock:
            chosen = choose(list(self.replicas), self.in_flight)
            if chosen is None:
                raise RuntimeError(
                    f"deployment {self.deployment!r} of application {self.app!r} has no "
                    "running replica; check serve.status()")
            self.in_flight[chosen] = self.in_flight.get(chosen, 0) + 1
            return chosen, self.replicas[chosen]

    def done(self, replica_id: str) -> None:
        with self.lock:
            if self.in_flight.get(replica_id, 0) > 0:
                self.in_flight[replica_id] -= 1

    def forget(self, replica_id: str) -> None:
        """A replica died: stop choosing it and ask the controller for the new set."""
        with self.lock:
            self.replicas.pop(replica_id, None)
        self.refresh()

    def refresh(self) -> None:
        replicas = _client.call("get_replicas", self.app, self.deployment)
        with self.lock:
            self.replicas = dict(replicas)
            self.in_flight = {rid: self.in_flight.get(rid, 0) for rid in self.replicas}
            self.fetched_at = time.monotonic()

    def refresh_in_background(self) -> None:
        with self.lock:
            if self.refreshing:
                return
            self.refreshing = True
            self.fetched_at = time.monotonic()

        def run() -> None:
            try:
                with contextlib.suppress(Exception):  # keep the old list; the next call retries
                    self.refresh()
            finally:
                self.refreshing = False
        threading.Thread(target=run, name="ember-serve-refresh", daemon=True).start()


_routers: dict[tuple[str, str], _Router] = {}
_routers_lock = threading.Lock()


def _router(app: str, deployment: str) -> _Router:
    with _routers_lock:
        router = _routers.get((app, deployment))
        if router is None:
            router = _routers[(app, deployment)] = _Router(app, deployment)
        return router


def forget_routers() -> None:
    """Drop cached replica lists (after ``serve.shutdown``)."""
    with _routers_lock:
        _routers.clear()


class DeploymentHandle:
    """Calls one deployment of a running application; picklable, so it can be bound
    into other deployments (made by ``serve.run`` / ``serve.get_app_handle`` only).

    Example::

        handle = serve.run(Model.bind())
        assert handle.predict.remote(3).result() == 6
    """

    _app: str
    _deployment: str
    _method: str
    _stream: bool

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("a DeploymentHandle comes from serve.run(...) or "
                        "serve.get_app_handle(name)")

    @classmethod
    def _make(cls, app: str, deployment: str, method: str = "__call__",
              stream: bool = False) -> DeploymentHandle:
        handle = object.__new__(cls)
        handle._app = app
        handle._deployment = deployment
        handle._method = method
        handle._stream = stream
        return handle

    @property
    def deployment_name(self) -> str:
        return self._deployment

    @property
    def app_name(self) -> str:
        return self._app

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return DeploymentHandle._make(self._app, self._deployment, name, self._stream)

    def options(self, *, method_name: str | None = None,
                stream: bool | None = None) -> DeploymentHandle:
        """A handle calling ``method_name``, or streaming a generator's items (``stream=True``).

        Args:
            method_name: the deployment method the new handle calls (None: this
                handle's method, ``__call__`` by default).
            stream: True to call a generator method and get its items as they come
                (None: as this handle).
        """
        if method_name is not None and (not isinstance(method_name, str) or not method_name):
            raise TypeError(f"method_name must be a method's name, got {method_name!r}")
        if stream is not None and not isinstance(stream, bool):
            raise TypeError(f"stream must be True or False, got {stream!r}")
        return DeploymentHandle._make(
            self._app, self._deployment, method_name or self._method,
            self._stream if stream is None else stream)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Send the call to a replica now; returns a DeploymentResponse (or, with
        ``options(stream=True)``, a DeploymentResponseGenerator).

        Inside an event loop (a replica's async method) the call is sent when the
        response is first awaited. The replica is picked by power-of-two-choices on
        the requests in flight from this process.

        Args:
            args / kwargs: the method's arguments (pickled); a DeploymentResponse
                among them is passed on by ref, so the next replica gets its value
                without this process waiting for it.
        """
        if self._stream:
            return DeploymentResponseGenerator(self, args, kwargs)
        return DeploymentResponse(self, args, kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DeploymentHandle._make, (self._app, self._deployment, self._method, self._stream))

    def __repr__(self) -> str:
        return f"DeploymentHandle(app={self._app!r}, deployment={self._deployment!r})"


def _route(router: _Router, args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[str, Any, tuple[Any, ...], dict[str, Any]]:
    """Responses among the arguments turned into refs, then a replica picked for the call."""
    args = tuple(_unwrap(a) for a in args)
    kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
    replica_id, actor = router.pick()
    return replica_id, actor, args, kwargs


def _unwrap(value: Any) -> Any:
    """Pass a response on by ref: the core resolves it before the next replica runs."""
    if isinstance(value, DeploymentResponse):
        return value._to_object_ref()
    return value


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class DeploymentResponse:
    """The future result of a handle call: ``await`` it, or ``.result()`` outside async code.

    Outside an event loop the call is sent at once. Inside one (a replica) it is sent
    from a helper thread when awaited: a backend may make the sending thread wait (on
    Dask, a call made inside a worker returns when it is done), and the loop must not.
    """

    def __init__(self, handle: DeploymentHandle, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self._handle = handle
        self._args = args
        self._kwargs = kwargs
        self._router = _router(handle._app, handle._deployment)
        self._replica_id: str | None = None
        self._ref: Any = None
        if not _in_event_loop():
            self._submit()

    def _submit(self) -> None:
        """Send the call (blocking is fine here: never on an event loop's thread)."""
        replica_id, actor, args, kwargs = _route(self._router, self._args, self._kwargs)
        self._replica_id = replica_id
        self._ref = actor.call.remote(self._handle._method, *args, **kwargs)

    def _finish(self) -> None:
        if self._replica_id is not None:
            self._router.done(self._replica_id)
            self._replica_id = None

    def _died(self, error: BaseException, attempt: int) -> str | None:
        """The replica to forget before retrying, if ``error`` means it died."""
        if not isinstance(error, ember.ActorDiedError) or attempt >= _RETRIES:
            return None
        dead, self._replica_id = self._replica_id, None
        if dead is not None:
            self._router.done(dead)
        return dead or ""

    def _resubmit(self, dead: str) -> None:
        self._router.forget(dead)
        self._submit()

    def result(self, timeout_s: float | None = None) -> Any:
        """Wait for the value (raising the replica's exception, with its traceback).

        A call whose replica died is sent again to another replica (up to 3 times).

        Args:
            timeout_s: seconds to wait for each attempt (None: as long as it takes).

        Raises:
            GetTimeoutError: no value within ``timeout_s``.
        """
        if self._ref is None:
            _client.off_loop(self._submit)
        attempt = 0
        while True:
            try:
                value = ember.get(self._ref, timeout=timeout_s)
            except BaseException as error:
                attempt += 1
                dead = self._died(error, attempt)
                if dead is None:
                    self._finish()
                    raise
                _client.off_loop(functools.partial(self._resubmit, dead))
                continue
            self._finish()
            return value

    def __await__(self) -> Any:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._ref is None:
            await loop.run_in_executor(None, self._submit)
        attempt = 0
        while True:
            try:
                value = await self._ref
            except BaseException as error:
                attempt += 1
                dead = self._died(error, attempt)
                if dead is None:
                    self._finish()
                    raise
                await loop.run_in_executor(None, self._resubmit, dead)
                continue
            self._finish()
            return value

    def _to_object_ref(self) -> Any:
        """The ObjectRef holding the result (Ray's name); sends the call if not yet sent."""
        if self._ref is None:
            _client.off_loop(self._submit)
        return self._ref

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self._finish()


def prefetch(value: Any) -> None:
    """Fetch the replica lists of the handles in ``value`` (a replica's constructor
    arguments) now, where blocking is fine, so calls from its event loop need not."""
    if isinstance(value, DeploymentHandle):
        with contextlib.suppress(Exception):  # fetched again on first use
            _router(value._app, value._deployment).refresh()
    elif isinstance(value, (list, tuple)):
        for item in value:
            prefetch(item)
    elif isinstance(value, dict):
        for item in value.values():
            prefetch(item)


class DeploymentResponseGenerator:
    """The items of a generator method, as they are produced (``stream=True`` handles).

    Iterate it (``for item in gen``) outside async code, or ``async for`` inside.
    """

    def __init__(self, handle: DeploymentHandle, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self._handle = handle
        self._args = args
        self._kwargs = kwargs
        self._router = _router(handle._app, handle._deployment)
        self._replica_id: str | None = None
        self._refs: Any = None
        if not _in_event_loop():
            self._start()

    def _start(self) -> None:
        replica_id, actor, args, kwargs = _route(self._router, self._args, self._kwargs)
        self._replica_id = replica_id
        method = actor.call_stream.options(num_returns="streaming")
        self._refs = method.remote(self._handle._method, *args, **kwargs)

    def __iter__(self) -> DeploymentResponseGenerator:
        return self

    def __next__(self) -> Any:
        if self._refs is None:
            _client.off_loop(self._start)
        try:
            return ember.get(next(self._refs))
        except StopIteration:
            self._finish()
            raise

    def __aiter__(self) -> DeploymentResponseGenerator:
        return self

    async def __anext__(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._refs is None:
            await loop.run_in_executor(None, self._start)
        ref = await loop.run_in_executor(None, _next_or_none, self._refs)
        if ref is None:
            self._finish()
            raise StopAsyncIteration
        return await ref

    def _finish(self) -> None:
        if self._replica_id is not None:
            self._router.done(self._replica_id)
            self._replica_id = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self._finish()


def _next_or_none(refs: Any) -> Any:
    try:
        return next(refs)
    except StopIteration:
        return None
