"""The scheduler's decisions, without processes."""

from __future__ import annotations

import itertools

from ember.core.embedded._scheduler import PIPELINE_DEPTH, Scheduler, Task, WorkerSlot

_ids = itertools.count(1)


def make_task(demand=None, depth=0):
    return Task(task_id=next(_ids), function_id=1, name="t", args_payload=(None, None),
                ref_args=[], held_ids=[], return_ids=[next(_ids)],
                demand=demand if demand is not None else {"CPU": 1.0}, max_retries=0,
                retry_exceptions=False, depth=depth, submitter=0)


def make_scheduler(cpus=2.0, **extra):
    scheduler = Scheduler({"CPU": cpus, **extra}, max_idle_workers=int(cpus))
    indices = itertools.count(1)

    def spawn():
        worker = WorkerSlot(next(indices))
        scheduler.workers[worker.index] = worker
        return worker
    return scheduler, spawn


def test_tasks_get_one_lease_per_cpu_then_pipeline():
    scheduler, spawn = make_scheduler(cpus=2)
    for _ in range(10):
        scheduler.push(make_task())
    placed = scheduler.schedule(spawn)
    workers = {worker.index for _, worker in placed}
    assert len(workers) == 2
    assert len(placed) == 2 * PIPELINE_DEPTH
    assert scheduler.available["CPU"] == 0


def test_nested_tasks_run_before_new_top_level_ones():
    scheduler, spawn = make_scheduler(cpus=1)
    top, child = make_task(depth=0), make_task(depth=1)
    scheduler.push(top)
    scheduler.push(child)
    (first, _), *_ = scheduler.schedule(spawn)
    assert first is child


def test_a_blocked_worker_lends_its_cpu():
    scheduler, spawn = make_scheduler(cpus=1)
    parent = make_task()
    scheduler.push(parent)
    [(_, worker)] = scheduler.schedule(spawn)
    child = make_task(depth=1)
    scheduler.block(worker)
    scheduler.push(child)
    [(placed, other)] = scheduler.schedule(spawn)
    assert placed is child and other is not worker
    scheduler.finish(other, child)
    scheduler.unblock(worker)
    assert scheduler.available["CPU"] == 0
    scheduler.finish(worker, parent)
    assert scheduler.available["CPU"] == 1


def test_infeasible_demand_is_explained():
    scheduler, _ = make_scheduler(cpus=2)
    assert "4 CPU" in scheduler.infeasible({"CPU": 4.0})
    assert "GPU" in scheduler.infeasible({"GPU": 1.0})
    assert scheduler.infeasible({"CPU": 2.0}) is None


def test_a_shape_that_cannot_run_does_not_block_others():
    scheduler, spawn = make_scheduler(cpus=2, slot=1.0)
    scheduler.push(make_task({"CPU": 1.0, "slot": 1.0}))
    scheduler.push(make_task({"CPU": 1.0, "slot": 1.0}))
    scheduler.push(make_task({"CPU": 1.0}))
    placed = scheduler.schedule(spawn)
    shapes = sorted(tuple(sorted(task.demand)) for task, _ in placed)
    assert ("CPU",) in shapes and ("CPU", "slot") in shapes


def test_gpu_ids_are_assigned_and_returned():
    scheduler, spawn = make_scheduler(cpus=4, GPU=2.0)
    scheduler.push(make_task({"CPU": 1.0, "GPU": 1.0}))
    scheduler.push(make_task({"CPU": 1.0, "GPU": 1.0}))
    placed = scheduler.schedule(spawn)
    assert sorted(w.gpu_ids[0] for _, w in placed) == [0, 1]
    for task, worker in placed:
        scheduler.finish(worker, task)
    assert scheduler.available["GPU"] == 2
