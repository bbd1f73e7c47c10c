"""Placement groups on Dask: bundles placed on workers, each a worker resource.

    placement_group(bundles) -> choose a worker per bundle (honouring the strategy and
        the workers' capacity), then give that worker resources named after the bundle,
        e.g. ``pg-<id>-0-CPU: 1``
    task in bundle i -> ``workers=[its worker]`` and ``resources={pg-<id>-i-CPU: n}``

Tasks and actors of a bundle therefore run on its worker, at most as many at once as
the bundle holds. A bundle whose worker left the cluster is placed again on a worker
that can hold it when its group is next used (or the call fails, saying so); removing a
group skips workers that are gone. A bundle's GPUs and custom resources are taken out of the worker's own
offer while the group exists (reserved); its CPUs are threads, which Dask cannot
reserve, so other work may still use them (the README's backend table says so).
"""

from __future__ import annotations

import uuid
from typing import Any

from .._placement_group import PlacementGroup
from ..exceptions import InfeasibleResourcesError
from ._resources import ClusterResources


class DaskGroups:
    def __init__(self, backend: Any):
        self.backend = backend
        self.groups: dict[int, list[tuple[str, dict[str, float]]]] = {}
        self.strategies: dict[int, str] = {}

    def create(self, bundles: list[dict[str, float]], strategy: str,
               name: str | None) -> PlacementGroup:
        workers = self.backend.resources.workers(fresh=True)
        capacity = {address: ClusterResources._capacity(info) for address, info in workers.items()}
        placement = _place(bundles, strategy, capacity)
        if placement is None:
            raise InfeasibleResourcesError(
                f"placement group {bundles} ({strategy}) does not fit the Dask workers "
                f"{list(capacity.values())}; use fewer or smaller bundles, or add workers")
        group_id = uuid.uuid4().int >> 80
        for index, (address, bundle) in enumerate(zip(placement, bundles)):
            self._reserve(group_id, index, address, bundle, workers)
        self.groups[group_id] = list(zip(placement, bundles))
        self.strategies[group_id] = strategy
        return PlacementGroup._make(group_id, bundles, strategy, name, self.backend.put(True))

    def _reserve(self, group_id: int, index: int, address: str, bundle: dict[str, float],
                 workers: dict[str, Any]) -> None:
        resources = {f"pg-{group_id}-{index}-{k}": v for k, v in bundle.items()}
        declared = workers[address].get("resources") or {}
        resources.update({k: declared[k] - v for k, v in bundle.items()
                          if k in declared and k != "CPU"})  # reserve them
        self.backend.client.run(_add_resources, resources, workers=[address])

    def _replace_lost(self, group_id: int, what: str) -> list[tuple[str, dict[str, float]]]:
        """Place again every bundle whose worker left the cluster, or raise."""
        members = self.groups[group_id]
        if all(address in self.backend.resources.workers() for address, _ in members):
            return members
        workers = self.backend.resources.workers(fresh=True)
        lost = [i for i, (address, _) in enumerate(members) if address not in workers]
        if not lost:
            return members
        capacity = {address: ClusterResources._capacity(info) for address, info in workers.items()}
        strategy = self.strategies[group_id]
        for i, (address, bundle) in enumerate(members):
            if i not in lost:  # what the group's surviving bundles already take
                capacity[address] = {k: v - bundle.get(k, 0.0)
                                     for k, v in capacity[address].items()}
                if strategy == "STRICT_SPREAD":
                    del capacity[address]  # one bundle per worker
        if strategy == "STRICT_PACK":  # all bundles on one worker, so move them all
            lost = list(range(len(members)))
            capacity = {address: ClusterResources._capacity(info)
                        for address, info in workers.items()}
        placement = _place([members[i][1] for i in lost], strategy, capacity)
        if placement is None:
            gone = sorted({members[i][0] for i in lost})
            raise InfeasibleResourcesError(
                f"{what}: bundle(s) {lost} of placement group {group_id:x} were on worker(s) "
                f"{gone}, which left the cluster, and no remaining worker can hold them "
                f"(workers offer {list(capacity.values())}); add workers, or remove the "
                "group and create a smaller one")
        for index, address in zip(lost, placement):
            self._reserve(group_id, index, address, members[index][1], workers)
            members[index] = (address, members[index][1])
        return members

    def constraints(self, options: Any, demand: dict[str, float], what: str) -> dict[str, Any]:
        """``workers=`` and ``resources=`` for a task or actor placed in a group."""
        group = options.placement_group
        members = self.groups.get(group.id)
        if members is None:
            raise ValueError(f"{what}: placement group {group.id:x} was removed or belongs "
                             "to another session; create a new one")
        members = self._replace_lost(group.id, what)
        index = options.placement_group_bundle_index
        choices = range(len(members)) if index == -1 else [index]
        for i in choices:
            address, bundle = members[i]
            if all(bundle.get(k, 0.0) >= v - 1e-9 for k, v in demand.items()):
                resources = {f"pg-{group.id}-{i}-{k}": v for k, v in demand.items() if v}
                return {"workers": [address], "allow_other_workers": False,
                        "resources": resources or None}
        raise InfeasibleResourcesError(
            f"{what} needs {demand} but no bundle of its placement group can hold it")

    def remove(self, group: PlacementGroup) -> None:
        members = self.groups.pop(group.id, None)
        self.strategies.pop(group.id, None)
        if members is None:
            return
        workers = self.backend.resources.workers(fresh=True)
        for index, (address, bundle) in enumerate(members):
            if address not in workers:
                continue  # that worker is gone, and its resources with it
            resources = {f"pg-{group.id}-{index}-{k}": 0.0 for k in bundle}
            declared = (workers.get(address) or {}).get("resources") or {}
            resources.update({k: declared[k] + v for k, v in bundle.items()
                              if k in declared and k != "CPU"})  # give them back
            self.backend.client.run(_add_resources, resources, workers=[address])


def _place(bundles: list[dict[str, float]], strategy: str,
           capacity: dict[str, dict[str, float]]) -> list[str] | None:
    """A worker address per bundle, or None if they cannot fit."""
    free = {address: dict(offer) for address, offer in capacity.items()}
    if strategy == "STRICT_PACK":
        total: dict[str, float] = {}
        for bundle in bundles:
            for key, amount in bundle.items():
                total[key] = total.get(key, 0.0) + amount
        for address, offer in free.items():
            if _fits(offer, total):
                return [address] * len(bundles)
        return None
    chosen: list[str] = []
    for bundle in bundles:
        if strategy == "PACK":
            order = sorted(free, key=lambda a: (a not in chosen, a))
        else:  # SPREAD / STRICT_SPREAD: unused workers first
            order = sorted(free, key=lambda a: (a in chosen, a))
        for address in order:
            if strategy == "STRICT_SPREAD" and address in chosen:
                continue
            if _fits(free[address], bundle):
                for key, amount in bundle.items():
                    free[address][key] = free[address].get(key, 0.0) - amount
                chosen.append(address)
                break
        else:
            return None
    return chosen


def _fits(offer: dict[str, float], demand: dict[str, float]) -> bool:
    return all(offer.get(k, 0.0) >= v - 1e-9 for k, v in demand.items())


async def _add_resources(resources: dict[str, float], dask_worker: Any = None) -> None:
    """Runs on a worker: add (or zero) resources it offers to the scheduler."""
    await dask_worker.set_resources(**resources)
