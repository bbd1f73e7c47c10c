"""The driver's Backend calls for actors, placement groups and streams (the Node
delegates to these; the under-lock logic lives in ``_node_actors`` and ``_streams``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import _serialization
from .._actor import ActorHandle
from .._generator import ObjectRefGenerator
from .._object_ref import ObjectRef
from .._placement_group import PlacementGroup
from .._serialization import is_plain
from .._task_args import split_args
from ..exceptions import GetTimeoutError
from . import _payload as P
from ._latch import Latch

if TYPE_CHECKING:
    from ._node import Node


class NodeCalls:
    def __init__(self, node: Node):
        self.node = node

    def create_actor(self, actor_class: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: Any) -> Any:
        node = self.node
        node._check_alive()
        serialized, ref_slots = split_args(args, kwargs)
        shipped = actor_class._shipped
        blob = node.functions.get(shipped.function_id) or shipped.blob()
        with node.lock:
            node.drain_ref_events()
            args_payload = node.args_payload(serialized)
            try:
                actor_id, handle_id, existed = node.extras.create(
                    shipped.function_id, blob, actor_class.__name__, actor_class._methods,
                    actor_class.is_async, options, args_payload, ref_slots,
                    serialized.contained_refs, holder=None)
            except BaseException:
                node.release_arguments(args_payload)
                raise
            if existed:
                node.release_arguments(args_payload)  # get_if_exists: no new actor
            record = node.actors.actors[actor_id]
            node.io.dispatch()
        return ActorHandle._make(actor_id, record.class_name, record.methods,
                                 ObjectRef._make(handle_id, node, counted=True))

    def call_actor(self, handle: Any, method: str, args: tuple[Any, ...],
                   kwargs: dict[str, Any], num_returns: Any) -> Any:
        node = self.node
        if handle._keepalive._runtime is not node or not node.alive:
            from .._context import stale_ref_error

            raise stale_ref_error(handle)
        if num_returns == 1 and not kwargs and is_plain(args):
            return self._call_actor_plain(handle._actor_id, method, args)
        serialized, ref_slots = split_args(args, kwargs)
        streaming = num_returns == "streaming"
        with node.lock:
            node.drain_ref_events()
            return_ids = [node.new_id() for _ in range(1 if streaming else max(num_returns, 1))]
            call = node.extras.call(handle._actor_id, method, node.args_payload(serialized),
                                    ref_slots, serialized.contained_refs, return_ids,
                                    num_returns, node.new_id(), holder=None)
        refs = [ObjectRef._make(rid, node, counted=True) for rid in return_ids]
        if streaming:
            return ObjectRefGenerator._make(call.task_id, refs[0], node)
        return refs[:num_returns]

    def _call_actor_plain(self, actor_id: int, method: str,
                          args: tuple[Any, ...]) -> list[ObjectRef[Any]]:
        node = self.node
        """The common call — builtin-typed positional arguments, one result — without
        the general path's argument scanning (plain values hold no refs)."""
        args_payload: tuple[None, P.Payload] = (
            None, (P.INLINE, _serialization.plain_dumps((list(args), {})), []))
        with node.lock:
            node.drain_ref_events()
            return_id = node.new_id()
            node.extras.call(actor_id, method, args_payload, [], [], [return_id], 1,
                             node.new_id(), holder=None)
        return [ObjectRef._make(return_id, node, counted=True)]

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        node = self.node
        with node.lock:
            node.extras.kill(handle._actor_id, no_restart)

    def get_actor(self, name: str, namespace: str | None) -> Any:
        node = self.node
        with node.lock:
            node.drain_ref_events()
            record = node.extras.lookup(name, namespace, holder=None)
        keepalive = ObjectRef._make(record.handle_id, node, counted=True)
        return ActorHandle._make(record.actor_id, record.class_name, record.methods, keepalive)

    def placement_group(self, bundles: list[dict[str, float]], strategy: str,
                        name: str | None) -> PlacementGroup:
        node = self.node
        node._check_alive()
        with node.lock:
            node.drain_ref_events()
            group_id, ready_id = node.extras.create_group(bundles, strategy, name)
            node.store.incref(ready_id)  # the group handle's ready() ref
            node.io.dispatch()
        ready = ObjectRef._make(ready_id, node, counted=True)
        return PlacementGroup._make(group_id, bundles, strategy, name, ready)

    def remove_placement_group(self, group: PlacementGroup) -> None:
        node = self.node
        with node.lock:
            node.extras.remove_group(group.id)
            node.io.dispatch()
            callbacks = node.take_after_lock()
        for callback in callbacks:
            callback()

    def stream_next(self, task_id: int, index: int, timeout: float | None) -> ObjectRef[Any]:
        node = self.node
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with node.lock:
                node.drain_ref_events()
                status, value = node.streams.poll(task_id, index, None)
                if status == "wait":
                    latch = Latch(1, node.after_lock)
                    node.streams.on_change(task_id, latch.count_down)
            if status == "item":
                return ObjectRef._make(value, node, counted=True)
            if status == "end":
                raise StopIteration
            if status == "error":
                raise P.error_from(value)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not latch.wait(remaining):
                raise GetTimeoutError(f"no new item from the stream within {timeout}s")

    def stream_release(self, task_id: int) -> None:
        node = self.node
        with node.lock:
            node.streams.release(task_id)
