"""Streaming returns: a generator task's items arrive as ObjectRefs while it runs.

    worker: for item in generator ──ITEM──> driver Stream.items ──next()──> consumer
    driver ──STREAM_ACK(consumed)──> worker: the producer pauses while
              produced - consumed >= generator_backpressure_num_objects

The stream holds each item until the consumer takes it; items never taken are freed
when the generator object is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _payload as P
from ._protocol import Msg

if TYPE_CHECKING:
    from ._node import Node
    from ._scheduler import Task, WorkerSlot


class Stream:
    __slots__ = ("acked", "done", "error", "handed", "items", "released", "task", "waiters")

    def __init__(self, task: Task):
        self.task = task
        self.items: list[int] = []
        self.handed = 0
        self.done = False
        self.error: P.Payload | None = None
        self.waiters: list[Any] = []
        self.released = False
        self.acked = 0


class Streams:
    """The driver's side of every live stream (called under the node lock)."""

    def __init__(self, node: Node):
        self.node = node
        self.streams: dict[int, Stream] = {}

    def open(self, task: Task) -> None:
        self.streams[task.task_id] = Stream(task)

    def item(self, task_id: int, object_id: int, payload: P.Payload, contained: list[int]) -> None:
        stream = self.streams.get(task_id)
        store = self.node.store
        store.create(object_id)  # held by the stream until handed out
        store.seal(object_id, payload, contained)
        if stream is None or stream.released:
            store.decref(object_id)
            return
        stream.items.append(object_id)
        self._wake(stream)

    def finish(self, task: Task, payload: P.Payload) -> None:
        stream = self.streams.get(task.task_id)
        if stream is None:
            return
        stream.done = True
        if payload[0] == P.ERROR:
            stream.error = payload
        self._wake(stream)
        if stream.released:
            del self.streams[task.task_id]

    def _wake(self, stream: Stream) -> None:
        waiters, stream.waiters = stream.waiters, []
        for waiter in waiters:
            waiter()

    def poll(self, task_id: int, index: int, taker: WorkerSlot | None) -> tuple[str, Any]:
        """("item", object_id) handing the item's ref to ``taker`` (None: the driver),
        ("end", None), ("error", payload) or ("wait", None)."""
        stream = self.streams.get(task_id)
        if stream is None:
            return ("end", None)
        if index < len(stream.items):
            object_id = stream.items[index]
            stream.items[index] = 0
            stream.handed = max(stream.handed, index + 1)
            if taker is not None:
                taker.held[object_id] += 1  # the stream's count becomes the worker's
            self._ack(stream)
            return ("item", object_id)
        if stream.done:
            return ("error", stream.error) if stream.error is not None else ("end", None)
        return ("wait", None)

    def on_change(self, task_id: int, callback: Any) -> None:
        stream = self.streams.get(task_id)
        if stream is not None:
            stream.waiters.append(callback)

    def _ack(self, stream: Stream) -> None:
        """Tell a producer paused on back-pressure that items were consumed."""
        task = stream.task
        limit = max(task.backpressure, 1)
        if stream.handed - stream.acked < max(1, limit // 2) and not stream.released:
            return
        stream.acked = stream.handed
        worker = task.worker
        if worker is not None and worker.alive:
            consumed = 1 << 62 if stream.released else stream.handed
            self.node.io.send(worker, [(Msg.STREAM_ACK, task.task_id, consumed)])

    def release(self, task_id: int) -> None:
        """The consumer dropped the generator: free untaken items, unpause the producer."""
        stream = self.streams.get(task_id)
        if stream is None or stream.released:
            return
        stream.released = True
        for object_id in stream.items[stream.handed:]:
            self.node.store.decref(object_id)
        stream.items = stream.items[:stream.handed]
        self._ack(stream)
        if stream.done:
            del self.streams[task_id]
