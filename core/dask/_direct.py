"""Actor calls sent straight from the driver to the actor's worker, not through a task.

    handle.f.remote(x)  (driver, no ref arguments, one return)
      -> one RPC to the worker hosting the ActorHost (Dask's actor_execute), no scheduler
      -> a DirectCall, which stands in for a Dask Future (key, status, done, exception,
         add_done_callback) until the value must live on the cluster

Where the relay task needs the scheduler twice and a worker thread per call, this is one
round trip. The value stays in the driver: ``get`` reads it there. It goes to the
cluster (``materialize``: scattered under the call's own key, so the ref keeps its id)
only when another process needs it, i.e. when the ref is an argument of a task or is
pickled into one.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._task_args import Slot

_SETTLER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ember-direct-calls")
"""Outcomes are set here, not on Dask's event loop: the callbacks they run (restarting an
actor, waking a get) make blocking client calls, as Dask Future callbacks may."""


class DirectCall:
    """The pending result of one direct actor call."""

    def __init__(self, key: str):
        self.key = key
        self._outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.materialized: Any = None  # the Dask Future once the value went to the cluster

    @property
    def status(self) -> str:
        if not self._outcome.done():
            return "pending"
        return "error" if self._outcome.exception() is not None else "finished"

    def done(self) -> bool:
        return self._outcome.done()

    def result(self) -> Any:
        return self._outcome.result()

    def exception(self) -> BaseException | None:
        return self._outcome.exception()

    def add_done_callback(self, callback: Callable[[DirectCall], None]) -> None:
        self._outcome.add_done_callback(lambda _: callback(self))

    def settle(self, value: Any = None, error: BaseException | None = None) -> bool:
        """Set the outcome unless it is set already; True if this call set it."""
        try:
            if error is None:
                self._outcome.set_result(value)
            else:
                self._outcome.set_exception(error)
        except concurrent.futures.InvalidStateError:
            return False
        return True


def send(client: Any, proxy: Any, key: str, caller: str, seq: int, method: str,
         blob: bytes, slots: list[Slot]) -> DirectCall:
    """Call ``ActorHost.invoke`` on the actor's worker: the message Dask's own actor proxy
    sends (``actor_execute``), on the client's event loop. Not through the proxy itself:
    it only works with a default Dask client, and Ember's client is not one."""
    from distributed.protocol import to_serialize  # type: ignore[attr-defined]  # no __all__

    call = DirectCall(key)
    address, actor_key = proxy._address, proxy.key
    args = [to_serialize(arg)  # type: ignore[no-untyped-call]
            for arg in (caller, seq, method, blob, slots, [])]

    async def deliver() -> None:
        try:
            reply = await client.rpc(address).actor_execute(
                function="invoke", actor=actor_key, args=args, kwargs={})
        except OSError as error:  # the worker is gone: the actor directory restarts it
            _SETTLER.submit(call.settle, None, OSError(
                f"unable to reach the actor's worker {address}: {error}"))
            return
        except BaseException as error:  # noqa: BLE001 - handed to whoever gets the ref
            _SETTLER.submit(call.settle, None, error)
            return
        if reply["status"] == "OK":
            _SETTLER.submit(call.settle, reply["result"])
        else:
            _SETTLER.submit(call.settle, None, reply["exception"])
    client.loop.add_callback(deliver)
    return call


def failed(key: str, error: BaseException) -> DirectCall:
    """A call that fails without being sent (its actor is known to be dead)."""
    call = DirectCall(key)
    call.settle(error=error)
    return call
