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

from .._log import logger
from ..exceptions import EmberError, InfeasibleResourcesError

_CACHE_S = 1.0


class ClusterResources:
    def __init__(self, client: Any):
        self.client = client
        self._workers: dict[str, dict[str, Any]] = {}
        self._read_at = 0.0
        # Every worker kind seen this session: a demand one of them could meet waits
        # while such a worker restarts or the cluster scales up again.
        self._seen: dict[tuple[tuple[str, float], ...], dict[str, Any]] = {}
        self._warned: set[tuple[tuple[str, float], ...]] = set()

    def workers(self, fresh: bool = False) -> dict[str, dict[str, Any]]:
        if fresh or time.monotonic() - self._read_at > _CACHE_S:
            try:
                info = self.client.scheduler_info(n_workers=-1)
                self._workers = dict(info["workers"])
            except (OSError, KeyError, TimeoutError) as error:
                raise EmberError(
                    f"cannot reach the Dask scheduler at {self.client.scheduler.address} "
                    f"({type(error).__name__}: {error}); if it stopped, restart it and its "
                    "workers, then ember.shutdown() and ember.init(address=...) again") \
                    from error
            self._read_at = time.monotonic()
            for info in self._workers.values():
                capacity = self._capacity(info)
                self._seen.setdefault(tuple(sorted(capacity.items())), info)
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
        """The ``resources=`` to pass to Dask. A demand no connected worker meets waits
        (with one warning) when a worker seen this session could meet it, or when no
        worker was ever seen (a cluster scaling from zero); it raises when the workers
        there are, and were, all too small."""
        workers = self.workers()
        if not any(self._fits(info, demand) for info in workers.values()):
            workers = self.workers(fresh=True)  # a worker may have joined since
        if not any(self._fits(info, demand) for info in workers.values()):
            known = list(self._seen.values())
            if known and not any(self._fits(info, demand) for info in known):
                biggest = [self._capacity(info) for info in known]
                raise InfeasibleResourcesError(
                    f"{what} needs {demand} but no Dask worker has that much (workers offer "
                    f"{biggest}); start workers with `dask worker --resources \"CPU=4 "
                    "GPU=1\"`, or ask for less")
            self._warn_waiting(what, demand, workers)
        declared = {key for info in (*workers.values(), *self._seen.values())
                    for key in (info.get("resources") or {})}
        resources = {k: v for k, v in demand.items() if k in declared and k != "CPU"}
        return resources or None

    def _warn_waiting(self, what: str, demand: dict[str, float],
                      workers: dict[str, dict[str, Any]]) -> None:
        shape = tuple(sorted(demand.items()))
        if shape in self._warned:
            return
        self._warned.add(shape)
        offered = [self._capacity(info) for info in workers.values()]
        logger.warning(
            f"{what} waits: no Dask worker connected to {self.client.scheduler.address} "
            f"offers {demand} right now (connected workers offer "
            f"{offered or 'nothing: none is connected'}); it starts when such a worker "
            "joins or comes back. Start one with `dask worker <scheduler address>` (with "
            "--resources for GPU or custom resources) if none is on its way")

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
