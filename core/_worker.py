"""A worker process: receive tasks, run them one at a time, send results back.

    reader thread: socket ──> EXEC queued / REPLY completes a request / CANCEL
    main thread:   queue ──> function(*args) ──> results stored ──> DONE

The main thread runs user code, so a cancel is a SIGINT aimed at it, which the handler
turns into KeyboardInterrupt only while the targeted task is the one running.
"""

from __future__ import annotations

import collections
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

from . import _context
from . import _payload as P
from . import _serialization
from ._arena import Arena
from ._protocol import Channel, Msg
from ._remote_error import capture
from ._task_args import fill_slots
from ._worker_runtime import WorkerRuntime
from .exceptions import TaskCancelledError

_REF_FLUSH_INTERVAL_S = 0.05


def run(sock_fd: int, index: int, arena: Arena, config: dict[str, Any]) -> None:
    """Entry point in a freshly forked worker."""
    sys.path[:] = config["sys_path"]
    os.environ.clear()
    os.environ.update(config["env"])
    try:
        os.chdir(config["cwd"])
    except OSError:
        pass
    channel = Channel(socket.socket(fileno=sock_fd))
    runtime = WorkerRuntime(channel, index, arena, config.get("totals", {}))
    _context.set_current(runtime)
    TaskLoop(runtime).serve_forever()


class TaskLoop:
    def __init__(self, runtime: WorkerRuntime):
        self.runtime = runtime
        self.functions: dict[int, Any] = {}
        self.queue: collections.deque[tuple] = collections.deque()
        self.ready = threading.Condition()
        self.running_task: int | None = None
        self.cancel_target: int | None = None
        self.blocked = False
        self.main_thread = threading.main_thread().ident
        runtime.enter_blocking = self.enter_blocking
        runtime.leave_blocking = self.leave_blocking

    def serve_forever(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)
        threading.Thread(target=self._read_forever, name="ember-reader", daemon=True).start()
        while True:
            with self.ready:
                while not self.queue:
                    self.ready.wait()
                message = self.queue.popleft()
            self._execute(message)

    def enter_blocking(self) -> list[int]:
        """The running task is about to wait in ``get``/``wait``: hand queued tasks back
        (they may be the very tasks it waits for) and bounce new ones until it resumes."""
        with self.ready:
            self.blocked = True
            task_ids = [message[1] for message in self.queue]
            self.queue.clear()
        return task_ids

    def leave_blocking(self) -> None:
        with self.ready:
            self.blocked = False

    # -- reader thread -------------------------------------------------------------------
    def _read_forever(self) -> None:
        channel = self.runtime.channel
        try:
            while True:
                readable, _, _ = select.select([channel.sock], [], [], _REF_FLUSH_INTERVAL_S)
                if not readable:
                    self.runtime.flush_refs()
                    continue
                data = channel.sock.recv(1 << 20)
                if not data:
                    break
                for message in channel.feed(data):
                    self._on_message(message)
        except (OSError, EOFError):
            pass
        os._exit(0)  # the driver is gone: so is this worker

    def _on_message(self, message: tuple) -> None:
        kind = message[0]
        if kind == Msg.EXEC:
            with self.ready:
                if self.blocked:
                    self.runtime.send((Msg.RETURN, [message[1]]))
                    return
                self.queue.append(message)
                self.ready.notify()
        elif kind == Msg.REPLY:
            self.runtime.complete(message[1], message[2])
        elif kind == Msg.CANCEL:
            self._cancel(message[1])

    def _cancel(self, task_id: int) -> None:
        with self.ready:
            for queued in self.queue:
                if queued[1] == task_id:
                    self.queue.remove(queued)
                    self.runtime.send((Msg.DONE, task_id, _cancelled(), 0.0, 0.0))
                    return
            if self.running_task == task_id:
                self.cancel_target = task_id
                signal.pthread_kill(self.main_thread, signal.SIGINT)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.cancel_target is not None and self.cancel_target == self.running_task:
            raise KeyboardInterrupt

    # -- main thread ---------------------------------------------------------------------
    def _execute(self, message: tuple) -> None:
        (_, task_id, function_id, blob, args_payload, ref_values, return_ids, name,
         env, depth) = message
        runtime = self.runtime
        start = time.time()
        results: Any = None
        values: Any = None
        try:
            function = self._function(function_id, blob)
            args, kwargs = self._arguments(args_payload, ref_values)
            if env:
                os.environ.update(env)
            runtime.depth = depth
            self.running_task = task_id
            try:
                value = function(*args, **kwargs)
            finally:
                self.running_task = None
            del args, kwargs
            values = _split_returns(value, len(return_ids), name)
            results = [self._store(v) for v in values]
        except KeyboardInterrupt:
            if self.cancel_target != task_id:
                raise
            results = _cancelled()
        except BaseException as error:  # every user failure goes back to the caller
            results = P.error(capture(error, name))
        finally:
            self.cancel_target = None
        runtime.send((Msg.DONE, task_id, results, start, time.time()))
        del values, results  # only now may their refs be released

    def _function(self, function_id: int, blob: bytes | None) -> Any:
        function = self.functions.get(function_id)
        if function is None:
            function = self.functions[function_id] = pickle.loads(blob)
            self.runtime.register_known_function(function_id)
        return function

    def _arguments(self, args_payload: tuple, ref_values: list) -> tuple[list, dict]:
        args_id, payload = args_payload
        args, kwargs = self.runtime.materialize(args_id, payload)
        if ref_values:
            fill_slots(args, kwargs, [(slot, self.runtime.materialize(object_id, value))
                                      for slot, object_id, value in ref_values])
        return args, kwargs

    def _store(self, value: Any) -> tuple[P.Payload, list[int]]:
        serialized = _serialization.dumps(value)
        return self.runtime.store_value(serialized), serialized.contained_refs


def _split_returns(value: Any, count: int, name: str) -> list[Any]:
    if count <= 1:
        return [value]
    try:
        values = list(value)
    except TypeError:
        raise ValueError(
            f"task {name} has num_returns={count} but returned a {type(value).__name__}, "
            f"not a sequence of {count} values") from None
    if len(values) != count:
        raise ValueError(
            f"task {name} has num_returns={count} but returned {len(values)} values")
    return values


def _cancelled() -> P.Payload:
    return P.error(TaskCancelledError("the task was cancelled with ember.cancel()"))
