"""Two ranks in one process (Dask actors share worker processes): a rank stopped while
it waits in the rendezvous for a dead peer lets the next run's rank join at once."""

from __future__ import annotations

import threading

import pytest
from ember.train import _worker
from ember.train._torch_setup import Rendezvous, leave_process_group
from tests_support import wait_for

pytest.importorskip("torch")


def _rendezvous(worker: _worker.TrainWorker, world_size: int) -> Rendezvous:
    port = worker.listen("127.0.0.1")
    return Rendezvous("127.0.0.1", port, 0, world_size, 0, world_size, 0)


def test_a_rank_stopped_in_its_rendezvous_frees_the_process_for_the_next_run(monkeypatch):
    monkeypatch.setattr(_worker, "_FREE_WAIT_S", 3.0)
    stuck = _worker.TrainWorker()
    errors: list[BaseException] = []

    def wait_for_a_dead_peer() -> None:
        try:  # world size 2: rank 1 died before it joined, so this waits
            stuck.setup(_rendezvous(stuck, 2), False, 1.0, 8.0, None)
        except BaseException as error:  # noqa: BLE001 - checked below
            errors.append(error)

    thread = threading.Thread(target=wait_for_a_dead_peer)
    thread.start()
    try:
        assert wait_for(lambda: stuck.phase == "rendezvous", timeout=10)
        stuck.stop("rank 1 died")  # what WorkerGroup does when it tears the group down
        fresh = _worker.TrainWorker()
        fresh.setup(_rendezvous(fresh, 1), False, 1.0, 30.0, None)  # no wait for `stuck`
        assert fresh.phase == "joined"
        fresh.stop("the run ended")
        assert fresh.phase == "idle"
    finally:
        thread.join(30)
        leave_process_group()
    assert len(errors) == 1  # the stuck rank never joins: it timed out or saw the stop

