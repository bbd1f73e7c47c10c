"""The node's actor, placement-group and stream operations, for the driver's own calls
and for the same calls arriving from workers (always under the node lock)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import _serialization
from ..exceptions import ActorDiedError, InfeasibleResourcesError
from . import _payload as P
from ._actors import ActorRecord, ActorState
from ._scheduler import PoolKey, Task, WorkerSlot

if TYPE_CHECKING:
    from .._actor import MethodInfo
    from ._node import Node


class NodeActors:
    def __init__(self, node: Node):
        self.node = node
        self.groups: dict[int, dict[str, Any]] = {}   # id -> bundles, strategy, ready id
        self.waiting_groups = 0

    # -- placement -----------------------------------------------------------------------
    def pool_of(self, options: Any, demand: dict[str, float], what: str) -> PoolKey | None:
        """The bundle pool a task or actor draws from; raise if it can never fit."""
        group = options.placement_group
        if group is None:
            why = self.node.scheduler.infeasible(demand)
            if why:
                raise InfeasibleResourcesError(
                    f"{what} can never run: {why}. Lower its num_cpus/num_gpus/resources, "
                    "or start ember.init() with more (e.g. num_cpus=..., resources=...)")
            return None
        record = self.groups.get(group.id)
        if record is None:
            raise ValueError(
                f"{what}: placement group {group.id:x} was removed or belongs to another "
                "session; create a new one with ember.placement_group(...)")
        index = options.placement_group_bundle_index
        bundles = record["bundles"] if index == -1 else [record["bundles"][index]]
        if not any(all(b.get(k, 0.0) >= v - 1e-9 for k, v in demand.items()) for b in bundles):
            raise InfeasibleResourcesError(
                f"{what} needs {demand} but bundle(s) {bundles} of its placement group "
                "cannot hold it; ask for less or reserve bigger bundles")
        return (group.id, index)

    def create_group(self, bundles: list[dict[str, float]], strategy: str,
                     name: str | None = None) -> tuple[int, int]:
        node = self.node
        total: dict[str, float] = {}
        for bundle in bundles:
            for key, amount in bundle.items():
                total[key] = total.get(key, 0.0) + amount
        why = node.scheduler.infeasible(total)
        if strategy == "STRICT_SPREAD" and len(bundles) > 1:
            why = (f"STRICT_SPREAD needs one machine per bundle, and this cluster has one "
                   f"machine for {len(bundles)} bundles")
        if why:
            raise InfeasibleResourcesError(
                f"placement group {bundles} can never be reserved: {why}. Use fewer or "
                "smaller bundles (or PACK/SPREAD on one machine)")
        group_id, ready_id = node.new_id(), node.new_id()
        node.store.create(ready_id)  # the group's record holds it; ready() refs add to it
        self.groups[group_id] = {"bundles": bundles, "ready": ready_id, "reserved": False,
                                 "name": name, "since": time.monotonic()}
        self.waiting_groups += 1
        self.try_reserve()
        return group_id, ready_id

    def try_reserve(self) -> None:
        """Reserve waiting groups, oldest first, as resources allow."""
        for group_id, record in self.groups.items():
            if not record["reserved"] and self.node.scheduler.reserve(group_id, record["bundles"]):
                record["reserved"] = True
                self.waiting_groups -= 1
                self.node.store.seal(record["ready"], P.inline(_serialization.dumps(True)))

    def remove_group(self, group_id: int) -> None:
        record = self.groups.pop(group_id, None)
        if record is None:
            return
        node = self.node
        for actor in list(node.actors.actors.values()):
            pool = actor.creation.pool
            if pool is not None and pool[0] == group_id and actor.state is not ActorState.DEAD:
                node.actors.kill(actor, no_restart=True)
        node.scheduler.release_group(group_id)
        if not record["reserved"]:
            self.waiting_groups -= 1
            error = ValueError("the placement group was removed before it was reserved")
            node.store.seal(record["ready"], P.error(error))
        node.store.decref(record["ready"])
        self.try_reserve()

    # -- actors ----------------------------------------------------------------------------
    def create(self, class_id: int, blob: bytes, class_name: str,
               methods: dict[str, MethodInfo], is_async: bool, options: Any,
               args_payload: tuple[int | None, P.Payload], ref_slots: list[tuple[Any, int]],
               nested: list[int], holder: WorkerSlot | None) -> tuple[int, int, bool]:
        """Register and start an actor; returns (actor id, handle id, already existed)."""
        node = self.node
        demand = options.resource_demand()
        pool = self.pool_of(options, demand, f"actor {class_name!r}")
        key = None
        if options.name is not None:
            key = (options.namespace or node.namespace, options.name)
            existing = node.actors.names.get(key)
            if existing is not None:
                if options.get_if_exists:
                    self._hold_handle(existing, holder)
                    return existing.actor_id, existing.handle_id, True
                raise ValueError(
                    f"an actor named {options.name!r} already exists in namespace {key[0]!r}; "
                    "choose another name, pass get_if_exists=True to reuse it, or "
                    "ember.kill() the old one first")
        node.functions[class_id] = blob
        actor_id, handle_id = node.new_id(), node.new_id()
        node.store.create(handle_id)  # the creator's handle
        node.store.seal(handle_id, P.inline(_serialization.dumps(actor_id)))
        node.store.drop_hooks[handle_id] = node.actors.handles_gone
        if holder is not None:
            holder.held[handle_id] += 1
        template = Task(
            task_id=node.new_id(), function_id=class_id, name=class_name,
            args_payload=args_payload, ref_args=ref_slots, held_ids=[], return_ids=[],
            demand=demand, max_retries=0, retry_exceptions=False, depth=0, submitter=0,
            pool=pool)
        node.hold_arguments(template, nested)
        if options.lifetime == "detached" or key is not None:
            # Detached and named actors stay until ember.kill or shutdown: a name is a
            # way to find the actor later, so dropping the creator's handle keeps it.
            node.store.incref(handle_id)
            template.held_ids.append(handle_id)  # released when the actor dies
        record = ActorRecord(actor_id, class_name, template, options, handle_id, key)
        record.methods, record.is_async = methods, is_async
        node.actors.register(record)
        return actor_id, handle_id, False

    def _hold_handle(self, record: ActorRecord, holder: WorkerSlot | None) -> None:
        self.node.store.incref(record.handle_id)
        if holder is not None:
            holder.held[record.handle_id] += 1

    def lookup(self, name: str, namespace: str | None, holder: WorkerSlot | None) -> ActorRecord:
        node = self.node
        record = node.actors.names.get((namespace or node.namespace, name))
        if record is None:
            known = sorted(n for ns, n in node.actors.names if ns == (namespace or node.namespace))
            raise ValueError(
                f"no actor named {name!r} in namespace {namespace or node.namespace!r}; "
                f"named actors there: {known or 'none'}")
        self._hold_handle(record, holder)
        return record

    def call(self, actor_id: int, method: str, args_payload: tuple[int | None, P.Payload],
             ref_slots: list[tuple[Any, int]], nested: list[int], return_ids: list[int],
             num_returns: Any, task_id: int, holder: WorkerSlot | None) -> Task:
        node = self.node
        record = node.actors.actors.get(actor_id)
        if record is None:
            raise ActorDiedError(
                f"actor {actor_id:x} is unknown to this session (it was created in a session "
                "that has been shut down); create a new actor")
        streaming = num_returns == "streaming"
        name = record.call_names.get(method)
        if name is None:
            name = record.call_names[method] = f"{record.class_name}.{method}"
        call = Task(
            task_id=task_id, function_id=0, name=name,
            args_payload=args_payload, ref_args=ref_slots, held_ids=[], return_ids=return_ids,
            demand={}, max_retries=0, retry_exceptions=False, depth=0, submitter=0,
            actor=record, streaming=streaming, backpressure=64)
        call.method = method
        node.store.incref(record.handle_id)  # pending calls keep the actor alive
        call.held_ids.append(record.handle_id)
        node.admit(call, nested, holder)
        return call

    def kill(self, actor_id: int, no_restart: bool) -> None:
        record = self.node.actors.actors.get(actor_id)
        if record is not None:
            self.node.actors.kill(record, no_restart)
