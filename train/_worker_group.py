"""The run's workers: reserved together as one placement group (all or none), ranked by
host like torchrun, joined into one torch.distributed process group (listening on
127.0.0.1 when they share this host, see ``_rendezvous``), and torn down
together (killing every worker, so no rank is left blocked in a collective)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, cast

import ember

from ._config import ScalingConfig
from ._rendezvous import bind_override, plan
from ._torch_setup import DEFAULT_TIMEOUT_S, Rendezvous
from ._worker import TrainWorker
from .trial import TrialSession

_RemoteTrainWorker = ember.remote(TrainWorker)
_WAIT_NOTICE_S = 10.0
_STOP_WAIT_S = 5.0


def rank_by_host(hosts: list[str]) -> list[tuple[int, int, int]]:
    """(local rank, local world size, node rank) per worker; workers keep their world
    rank, hosts are numbered in order of first appearance (rank 0's host is node 0)."""
    order = list(dict.fromkeys(hosts))
    seen: dict[str, int] = {}
    placed = []
    for host in hosts:
        placed.append((seen.get(host, 0), hosts.count(host), order.index(host)))
        seen[host] = seen.get(host, 0) + 1
    return placed


@dataclass
class WorkerGroup:
    workers: list[Any]
    rendezvous: list[Rendezvous]
    placement_group: Any
    owns_placement_group: bool
    pids: list[int]  # rank -> its process, to name a rank that failed

    @classmethod
    def start(cls, scaling: ScalingConfig, trial: TrialSession | None,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> WorkerGroup:
        """Reserve, start and connect ``scaling.num_workers`` workers."""
        bundle = scaling.worker_resources()
        if trial is not None and trial.placement_group is not None:
            group, first, owns = trial.placement_group, trial.first_bundle, False
        else:
            group = ember.placement_group([dict(bundle)] * scaling.num_workers,
                                          strategy=scaling.placement_strategy)
            first, owns = 0, True
            _wait_until_reserved(group, scaling)
        workers: list[Any] = []
        try:
            extra = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
            for index in range(scaling.num_workers):
                strategy = ember.PlacementGroupSchedulingStrategy(group, first + index)
                workers.append(_RemoteTrainWorker.options(
                    num_cpus=bundle.get("CPU", 0), num_gpus=bundle.get("GPU", 0),
                    resources=extra, max_concurrency=4,
                    scheduling_strategy=strategy).remote())
            located = ember.get([worker.locate.remote() for worker in workers])
            hosts = [host for host, _, _ in located]
            where = plan(hosts, [address for _, address, _ in located], bind_override())
            port = ember.get(workers[0].listen.remote(where.listen))
            rendezvous = [
                Rendezvous(where.connect, port, rank, len(workers), local, local_size, node)
                for rank, (local, local_size, node) in enumerate(rank_by_host(hosts))]
            _get_failing_fast([
                worker.setup.remote(rdv, scaling.use_gpu, bundle.get("CPU", 1.0), timeout_s,
                                    address)
                for worker, rdv, address in zip(workers, rendezvous, where.collectives)])
        except BaseException as error:
            _stop(workers, group if owns else None,
                  f"the group did not start: {type(error).__name__}")
            raise
        return cls(workers, rendezvous, group, owns, [pid for _, _, pid in located])

    def shutdown(self, reason: str = "the run ended") -> None:
        """Stop every worker: a rank waiting in ``report`` raises saying ``reason`` (on a
        backend where killing an actor leaves its process running, that ends its thread
        too), then each is killed."""
        _stop(self.workers, self.placement_group if self.owns_placement_group else None,
              reason)
        self.workers = []


def _get_failing_fast(refs: list[Any]) -> list[Any]:
    """``ember.get(refs)``, but raising as soon as any of them failed: a rank whose
    setup died leaves the others waiting in the rendezvous for it until they time out."""
    pending = list(refs)
    while pending:
        ready, pending = ember.wait(pending, num_returns=1)
        ember.get(ready)
    return cast("list[Any]", ember.get(refs))


def _wait_until_reserved(group: Any, scaling: ScalingConfig) -> None:
    if group.wait(timeout_seconds=_WAIT_NOTICE_S):
        return
    print(f"ember.train: waiting for {scaling.num_workers} x {scaling.worker_resources()} to "
          f"free up (available now: {ember.available_resources()})", file=sys.stderr)
    group.wait(timeout_seconds=None)


def _stop(workers: list[Any], group: Any, reason: str) -> None:
    """Tell each worker why it stops (a rank in ``report`` or in the rendezvous lets go
    of its process at once), then kill it."""
    stopping = []
    for worker in workers:
        try:
            stopping.append(worker.stop.remote(reason))
        except Exception:  # noqa: BLE001,S110 - already dead (the error depends on the backend)
            pass
    if stopping:  # let them land before the kill, which may drop queued calls
        ember.wait(stopping, num_returns=len(stopping), timeout=_STOP_WAIT_S)
    for worker in workers:
        try:
            ember.kill(worker)
        except Exception:  # noqa: BLE001,S110 - already dead: what we wanted
            pass
    if group is not None:
        try:
            ember.remove_placement_group(group)
        except Exception:  # noqa: BLE001,S110 - the session is shutting down
            pass
