"""Dask workers' resources, seen as one cluster: totals, what is free, feasibility.

CPUs are worker threads: a worker offers its declared ``CPU`` resource, or its thread
count. A CPU request is checked for feasibility but not passed to Dask as a resource
constraint: a task that blocks in ``get`` leaves its thread (``secede``) so nested tasks
can run, and Dask keeps resource constraints held by such a task, which would starve
its children. GPUs and custom resources are passed to Dask as they are.
"""

from __future__ import annotations

import time
from typing import Any

from .exceptions import InfeasibleResourcesError

_CACHE_S = 1.0


class ClusterResources:
    def __init__(self, client: Any):
        self.client = client
        self._workers: dict[str, dict[str, Any]] = {}
        self._read_at = 0.0

    def workers(self, fresh: bool = False) -> dict[str, dict[str, Any]]:
        if fresh or time.monotonic() - self._read_at > _CACHE_S:
            self._workers = dict(self.client.scheduler_info(n_workers=-1)["workers"])
            self._read_at = time.monotonic()
        return self._workers

    @staticmethod
    def _capacity(info: dict[str, Any]) -> dict[str, float]:
        capacity = {k: float(v) for k, v in (info.get("resources") or {}).items()}
        capacity.setdefault("CPU", float(info.get("nthreads", 1)))
        return capacity

    def total(self) -> dict[str, float]:
        totals: dict[str, float] = {"CPU": 0.0}
        memory = 0.0
        for info in self.workers().values():
            for key, amount in self._capacity(info).items():
                totals[key] = totals.get(key, 0.0) + amount
            memory += float(info.get("memory_limit") or 0)
        totals["object_store_memory"] = memory
        return totals

    def available(self) -> dict[str, float]:
        used = self.client.run_on_scheduler(_used_resources)
        free = self.total()
        for address, info in self.workers().items():
            declared = info.get("resources") or {}
            for key, amount in (used.get(address) or {}).items():
                free[key] = free.get(key, 0.0) - amount
            if "CPU" not in declared:
                free["CPU"] -= used.get(address, {}).get("_threads", 0.0)
        return {k: max(v, 0.0) for k, v in free.items() if not k.startswith("_")}

    def placement(self, demand: dict[str, float], what: str) -> dict[str, float] | None:
        """The ``resources=`` to pass to Dask; raise if no worker could ever run it."""
        workers = self.workers()
        if not any(self._fits(info, demand) for info in workers.values()):
            workers = self.workers(fresh=True)  # a worker may have joined since
        if not any(self._fits(info, demand) for info in workers.values()):
            biggest = [self._capacity(info) for info in workers.values()]
            raise InfeasibleResourcesError(
                f"{what} needs {demand} but no Dask worker has that much (workers offer "
                f"{biggest or 'nothing: no worker is connected'}); start workers with "
                "`dask worker --resources \"CPU=4 GPU=1\"`, or ask for less")
        declared = {key for info in workers.values() for key in (info.get("resources") or {})}
        resources = {k: v for k, v in demand.items() if k in declared and k != "CPU"}
        return resources or None

    def _fits(self, info: dict[str, Any], demand: dict[str, float]) -> bool:
        capacity = self._capacity(info)
        return all(capacity.get(k, 0.0) >= v - 1e-9 for k, v in demand.items())


def _used_resources(dask_scheduler: Any) -> dict[str, dict[str, float]]:
    """Runs on the scheduler: resources held by running tasks, per worker."""
    used = {}
    for address, worker in dask_scheduler.workers.items():
        held = dict(getattr(worker, "used_resources", {}) or {})
        held["_threads"] = float(len(getattr(worker, "processing", ()) or ()))
        used[address] = held
    return used
