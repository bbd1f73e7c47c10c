"""Workers starting and dying: pids from the zygote, and what a death does to tasks.

A worker's death is final once both its socket closed and the zygote reported its exit
code (or a second passed), so the error can say how it died.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from ..exceptions import WorkerCrashedError
from . import _payload as P
from ._scheduler import Task, WorkerSlot
from ._zygote import EXITED, SPAWNED

if TYPE_CHECKING:
    from ._node import Node
    from ._node_io import NodeIO

_EXIT_REPORT_GRACE_S = 1.0


class WorkerLifecycle:
    def __init__(self, node: Node, io: NodeIO):
        self.node = node
        self.io = io
        self._pids: dict[int, WorkerSlot] = {}

    # -- worker lifecycle ------------------------------------------------------------------
    def on_zygote_event(self) -> None:
        try:
            event = self.node.pool.read_event()
        except OSError:
            event = None
        if event is None:  # the zygote is gone (shutdown): stop listening to it
            self.io.forget(self.node.pool.control)
            return
        if event[0] == SPAWNED:
            _, index, pid = event
            worker = self.node.scheduler.workers.get(index)
            if worker is not None:
                worker.pid = pid
                self._pids[pid] = worker
                if worker.kill_when_spawned:
                    self.node.pool.kill(pid, signal.SIGKILL)
                elif worker.signal_when_spawned:
                    os.kill(pid, worker.signal_when_spawned)
        elif event[0] == EXITED:
            _, pid, code = event
            worker = self._pids.pop(pid, None)
            if worker is not None:
                worker.exit_code = code
                if worker.eof:
                    self._worker_died(worker)

    def on_worker_eof(self, worker: WorkerSlot) -> None:
        self.io.unwatch(worker)
        worker.eof = True
        if worker.exit_code is not None or worker.retired:
            self._worker_died(worker)
        else:
            self.io.add_timer(_EXIT_REPORT_GRACE_S, lambda: self._worker_died(worker))

    def _worker_died(self, worker: WorkerSlot) -> None:
        node = self.node
        if not worker.alive:
            return
        tasks = node.scheduler.remove_worker(worker)
        worker.channel.close()
        if worker.actor is not None:
            node.actors.worker_died(worker, tasks, describe_exit(worker.exit_code))
        else:
            self._requeue_or_fail(worker, tasks)
        self.release_holdings(worker)

    def _requeue_or_fail(self, worker: WorkerSlot, tasks: list[Task]) -> None:
        node = self.node
        for index, task in enumerate(tasks):
            if task.finished:
                continue
            if task.cancelled:
                node.complete(task, [P.cancelled()] * len(task.return_ids), ())
                continue
            if index == 0:  # the one that was running when the worker died
                task.retries_used += 1
                stream = node.streams.streams.get(task.task_id)
                partial = stream is not None and bool(stream.items)  # items already out
                if partial or (task.max_retries != -1 and task.retries_used > task.max_retries):
                    error = WorkerCrashedError(self._death_message(worker, task))
                    node.complete(task, [P.error(error)] * len(task.return_ids), ())
                    continue
            task.worker = None
            node.scheduler.push(task, keep_order=True)

    def release_holdings(self, worker: WorkerSlot) -> None:
        """Drop the refs, pins and half-written allocations a gone worker had."""
        store = self.node.store
        for object_id, count in worker.held.items():
            for _ in range(count):
                store.decref(object_id)
        for object_id, count in worker.pins.items():
            for _ in range(count):
                store.unpin(object_id)
        for offset in worker.allocs:
            store.free_allocation(offset)
        worker.held.clear()
        worker.pins.clear()
        worker.allocs.clear()

    def _death_message(self, worker: WorkerSlot, task: Task) -> str:
        return (
            f"the worker running task {task.name!r} (pid {worker.pid}) died: "
            f"{describe_exit(worker.exit_code)}. The task ran {task.retries_used} time(s) "
            f"(max_retries={task.max_retries}). If it runs out of memory, lower its memory "
            "use or run fewer at once (raise num_cpus per task); raise max_retries to retry "
            "more")


def describe_exit(code: int | None) -> str:
    """How a process ended, in words: "it was killed by SIGKILL (...)", "exit code 1"."""
    if code is None:
        return "its exit status is unknown"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        how = f"it was killed by {name}"
        if -code == signal.SIGKILL:
            how += " (possibly by the out-of-memory killer)"
        return how
    return f"it exited with exit code {code}"
