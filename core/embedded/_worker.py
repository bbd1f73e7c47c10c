"""A worker process: receive tasks, run them one at a time, send results back.

    socket ──> EXEC queued ──> function(*args) ──> results stored ──> DONE (batched)

One thread does everything: it reads the socket when it has nothing queued (or waits
for a reply inside ``get``), so a task costs no thread hand-offs. Results of short tasks
are sent together when more tasks are already queued, but never held back long.

Cancellation: the driver sends CANCEL and then SIGUSR1. The signal interrupts user code
(even a blocking sleep); its handler reads the socket and raises KeyboardInterrupt if
the CANCEL names the running task.
"""

from __future__ import annotations

import collections
import os
import pickle
import signal
import socket
import sys
import threading
import time
from typing import Any

from .. import _context, _serialization
from .._log import configure as configure_logging
from .._remote_error import capture, exit_code
from .._remote_function import short_name
from .._task_args import fill_slots
from . import _payload as P
from ._arena import Arena
from ._protocol import Channel, Msg
from ._returns import split_returns
from ._worker_output import LabelledStream, Labels, install
from ._worker_runtime import WorkerRuntime

_MAX_RESULT_DELAY_S = 0.0005
"""Results of finished tasks wait at most this long for company before being sent."""
CANCEL_SIGNAL = signal.SIGUSR1


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
    loop = TaskLoop(runtime)
    if config.get("forward_output"):
        loop.labels = Labels()
        loop.output = install(loop.labels)
    if config.get("logging_level") is not None:  # init(logging_level=) reaches workers too
        configure_logging(config["logging_level"])
    loop.serve_forever()


class TaskLoop:
    def __init__(self, runtime: WorkerRuntime):
        self.runtime = runtime
        self.functions: dict[int, Any] = {}
        # Bodies as received, kept whatever becomes of the message that carried one: the
        # driver sends a body only with the first EXEC of a function to this worker, and
        # that EXEC may be bounced back, cancelled while queued, or handed back by a
        # blocking get before it runs.
        self.bodies: dict[int, bytes] = {}
        self.queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self.running_task: int | None = None
        self.in_user_code = False
        self.blocked = False
        self.cancel_requested: int | None = None
        self.signal_pending = False
        self.unsent: list[tuple[tuple[Any, ...], Any]] = []  # (DONE message, values kept alive)
        self.unsent_since = 0.0
        self.actor: Any = None  # an ActorRunner once this worker hosts an actor
        self.labels: Labels | None = None  # set when the driver prints our output
        self.output: tuple[LabelledStream, LabelledStream] = ()  # type: ignore[assignment]
        runtime.on_message = self._on_message
        runtime.enter_blocking = self.enter_blocking
        runtime.leave_blocking = self.leave_blocking

    def serve_forever(self) -> None:
        signal.signal(CANCEL_SIGNAL, self._on_cancel_signal)
        runtime = self.runtime
        while True:
            if not self.queue:
                self._send_results()
                runtime.wait_until(lambda: bool(self.queue))
                continue
            if self.unsent and time.perf_counter() - self.unsent_since > _MAX_RESULT_DELAY_S:
                self._send_results()
            self._execute(self.queue.popleft())

    def _send_results(self) -> None:
        if self.unsent:
            batch, self.unsent = self.unsent, []
            if len(batch) == 1:
                self.runtime.send(batch[0][0])
            else:
                self.runtime.send((Msg.DONE_MANY, [message[1:] for message, _ in batch]))
            # Only now may the result values (and refs inside them) be released: the
            # driver has learned which refs the results contain.
            del batch

    # -- messages (handled by whichever thread reads the socket) -------------------------
    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if (kind == Msg.EXEC or kind == Msg.ACTOR_INIT) and message[3] is not None:
            self.bodies[message[2]] = message[3]
        if kind == Msg.EXEC:
            if self.blocked:  # the running task waits in get: let another worker run it
                self.runtime.send((Msg.RETURN, [message[1]]))
            else:
                self.queue.append(message)
        elif kind == Msg.ACTOR_CALL or kind == Msg.ACTOR_INIT:
            self.queue.append(message)  # an actor's calls stay here, in order
        elif kind == Msg.STREAM_ACK:
            acks = self.runtime.stream_acks
            acks[message[1]] = max(acks.get(message[1], 0), message[2])
        elif kind == Msg.CANCEL:
            self._cancel(message[1])

    def _cancel(self, task_id: int) -> None:
        for queued in self.queue:
            if queued[1] == task_id:
                self.queue.remove(queued)
                self.runtime.send((Msg.DONE, task_id, P.cancelled(), 0.0, 0.0))
                return
        if self.actor is not None and self.actor.cancel(task_id):
            return
        if self.running_task == task_id and self.in_user_code:
            if threading.current_thread() is threading.main_thread():
                self.runtime.pending_cancel = task_id
            else:
                self.cancel_requested = task_id
                main_ident = threading.main_thread().ident
                assert main_ident is not None  # the main thread has started: it has an ident
                signal.pthread_kill(main_ident, CANCEL_SIGNAL)

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self.cancel_requested is not None and self.cancel_requested == self.running_task:
            self.cancel_requested = None
            raise KeyboardInterrupt
        if self.in_user_code:
            self.runtime.read_available()  # raises KeyboardInterrupt if it names this task
        else:
            self.signal_pending = True  # checked again just before user code starts

    def enter_blocking(self) -> list[int]:
        """The running task is about to wait in ``get``/``wait``: hand queued tasks back
        (they may be the very tasks it waits for) and bounce new ones until it resumes."""
        on_main = threading.current_thread() is threading.main_thread()
        if on_main:
            self._send_results()  # results the awaited work may depend on
        if self.actor is not None:
            return []  # an actor's calls are its own: they wait for it
        self.blocked = True
        task_ids = [message[1] for message in self.queue]
        self.queue.clear()
        return task_ids

    def leave_blocking(self) -> None:
        self.blocked = False

    # -- running a task ------------------------------------------------------------------
    def _execute(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == Msg.ACTOR_CALL:
            self.actor.run(message)
            return
        if kind == Msg.ACTOR_INIT:
            self._become_actor(message)
            return
        (_, task_id, function_id, _, args_payload, ref_values, return_ids, name,
         env, depth, stream) = message
        start = time.time()
        if self.labels is not None:
            self.labels.set(short_name(name))
        try:
            function, args, kwargs = self._load(function_id, args_payload, ref_values, env)
            self.runtime.depth = depth
            results, values = self.invoke(task_id, lambda: function(*args, **kwargs), name,
                                          len(return_ids), stream)
        except BaseException as error:  # noqa: BLE001 - the arguments failed to load: report it
            results, values = P.error(capture(error, name)), None
        self.finished(task_id, results, values, start)

    def finished(self, task_id: int, results: Any, values: Any, start: float) -> None:
        """Queue a DONE; ``values`` stay alive until it is sent (they may hold refs)."""
        for stream in self.output:
            if stream.dirty:  # a last line without a newline: show it now
                stream.flush()
        if not self.unsent:
            self.unsent_since = time.perf_counter()
        self.unsent.append(((Msg.DONE, task_id, results, start, time.time()), values))

    def invoke(self, task_id: int, call: Any, name: str, count: int,
               stream: int) -> tuple[Any, Any]:
        """Run user code in the main thread, cancellable; returns (results, values)."""
        self.running_task = task_id
        self.in_user_code = True
        try:
            try:
                if self.signal_pending:  # a cancel may have raced the task's start
                    self.signal_pending = False
                    self.runtime.read_available()
                value = call()
                if stream:
                    return self.stream(task_id, iter(value), stream), None
            finally:
                self.in_user_code = False
                self.running_task = None
            values = split_returns(value, count, name)
            return [self.store(v) for v in values], values
        except KeyboardInterrupt:
            return P.cancelled(), None
        except BaseException as error:  # noqa: BLE001 - every user failure goes back to the caller
            if isinstance(error, SystemExit) and self.actor is not None:
                self.exit_actor(task_id, error, name)
            return P.error(capture(error, name)), None
        finally:
            self.cancel_requested = None
            self.runtime.pending_cancel = None

    def exit_actor(self, task_id: int, error: SystemExit, name: str) -> None:
        """``sys.exit`` in an actor method ends the actor on purpose: the driver marks it
        dead (no restart, the call and later ones raise ActorDiedError), and this
        process exits with the code asked for."""
        if threading.current_thread() is threading.main_thread():
            self._send_results()  # earlier calls' results first
        reason = f"it exited on purpose: {name} called sys.exit({error.code!r})"
        self.runtime.send((Msg.ACTOR_EXIT, task_id, reason))
        os._exit(exit_code(error))

    def stream(self, task_id: int, items: Any,
               backpressure: int) -> list[tuple[P.Payload, list[int]]]:
        """Send each item as it is produced; pause while too many are unconsumed."""
        runtime = self.runtime
        on_main = threading.current_thread() is threading.main_thread()
        produced = 0
        for item in items:
            if on_main:
                self.in_user_code = False  # no cancel signal while we talk to the driver
            self.send_item(task_id, item)
            del item
            produced += 1
            if produced - runtime.stream_acks.get(task_id, 0) >= backpressure:
                runtime.wait_until(  # called only while this iteration waits: no late binding
                    lambda: produced - runtime.stream_acks.get(task_id, 0) < backpressure)  # noqa: B023
            if on_main:
                self.in_user_code = True
        runtime.stream_acks.pop(task_id, None)
        return [self.store(produced)]

    def send_item(self, task_id: int, item: Any) -> None:
        serialized = _serialization.dumps(item)
        payload = self.runtime.store_value(serialized)
        self.runtime.send((Msg.ITEM, task_id, self.runtime.new_id(), payload,
                           serialized.contained_refs))

    def _become_actor(self, message: tuple[Any, ...]) -> None:
        from ._actor_worker import ActorRunner

        (_, task_id, class_id, _, args_payload, ref_values, _, name, env,
         concurrency, is_async) = message
        start = time.time()
        if self.labels is not None:
            self.labels.set(short_name(name))  # an actor's lines carry its class name
        try:
            cls, args, kwargs = self._load(class_id, args_payload, ref_values, env)
            self.actor = ActorRunner(self, cls(*args, **kwargs), name, concurrency, is_async)
            results: Any = []
        except BaseException as error:  # noqa: BLE001 - the constructor failed: the actor is dead
            results = P.error(capture(error, f"{name}.__init__"))
        self.finished(task_id, results, None, start)

    def _load(self, function_id: int, args_payload: tuple[int | None, P.Payload],
              ref_values: list[tuple[Any, int, P.Payload]],
              env: dict[str, str] | None) -> tuple[Any, list[Any], dict[str, Any]]:
        """What a task or an actor's constructor needs before it runs: the function (or
        class), its arguments, and the environment (e.g. CUDA_VISIBLE_DEVICES)."""
        function = self._function(function_id)
        args, kwargs = self.arguments(args_payload, ref_values)
        if env:
            os.environ.update(env)
        return function, args, kwargs

    def _function(self, function_id: int) -> Any:
        function = self.functions.get(function_id)
        if function is None:
            body = self.bodies.get(function_id)
            if body is None:  # the driver's bookkeeping and ours disagree: an engine bug
                raise RuntimeError(
                    f"ember internal error: worker {os.getpid()} was never sent the body of "
                    f"function {function_id:#x}; please report this")
            function = self.functions[function_id] = pickle.loads(body)
            del self.bodies[function_id]  # kept until it loads: a failed load fails again
            self.runtime.register_known_function(function_id)
        return function

    def arguments(self, args_payload: tuple[int | None, P.Payload],
                  ref_values: list[tuple[Any, int, P.Payload]],
                  ) -> tuple[list[Any], dict[str, Any]]:
        args_id, payload = args_payload
        # The id is None only for an INLINE payload, which materialize never unpins.
        args, kwargs = self.runtime.materialize(args_id, payload)  # type: ignore[arg-type]
        if ref_values:
            fill_slots(args, kwargs, [(slot, self.runtime.materialize(object_id, value))
                                      for slot, object_id, value in ref_values])
        return args, kwargs

    def store(self, value: Any) -> tuple[P.Payload, list[int]]:
        serialized = _serialization.dumps(value)
        return self.runtime.store_value(serialized), serialized.contained_refs


