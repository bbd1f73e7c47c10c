"""``TrainWorker``: the actor one rank of a run lives in.

It runs the user's loop in one actor thread while the driver, from other actor threads
(the actor is threaded for that), collects the rank's reports through ``next_reports``,
releases the reports every rank has made with ``release`` and, when it tears the group
down, ends any report still waiting with ``stop``.
"""

from __future__ import annotations

import inspect
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from . import _session
from ._checkpoint import Checkpoint
from ._rendezvous import collectives_env, host_address, make_store, open_listener
from ._report_barrier import Report
from ._session import TrainContext, WorkerSession
from ._storage import RunStorage
from ._torch_setup import (
    Rendezvous,
    init_process_group,
    leave_process_group,
    torchrun_env,
)

_FREE_WAIT_S = 60.0


class _ProcessGroupSlot:
    """Which TrainWorker of this process holds torch's (process-wide) default process
    group. On Dask several actors share a worker process, and a killed actor's thread
    outlives it: a rank of a restarted run placed there waits until the old one lets go."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: TrainWorker | None = None

    def take(self, worker: TrainWorker, timeout_s: float) -> bool:
        with self._changed:
            if not self._changed.wait_for(lambda: self._holder is None, timeout_s):
                return False
            self._holder = worker
            return True

    def give_back(self, worker: TrainWorker) -> None:
        with self._changed:
            if self._holder is worker:
                self._holder = None
                self._changed.notify_all()


_SLOT = _ProcessGroupSlot()


class TrainWorker:
    """One training process (rank); created by ``WorkerGroup``."""

    def __init__(self) -> None:
        self.session: WorkerSession | None = None
        self.started = threading.Event()
        self.listen_fd: int | None = None
        self.phase = "idle"  # -> "rendezvous" -> "initializing" -> "joined" -> "idle"
        self.abandoned: str | None = None  # why the group was torn down during setup
        self.leaving = threading.Lock()

    def locate(self) -> tuple[str, str, int]:
        """(host name, address other hosts reach it at, pid): the driver ranks workers by
        host and chooses where the rendezvous listens (``_rendezvous.plan``); the pid names
        the rank's process when it fails."""
        return socket.gethostname(), host_address(), os.getpid()

    def listen(self, address: str) -> int:
        """Rank 0: bind the rendezvous socket on ``address``; the port it got."""
        self.listen_fd, port = open_listener(address)
        return port

    def setup(self, rendezvous: Rendezvous, use_gpu: bool, num_cpus: float,
              timeout_s: float, collectives_address: str | None) -> None:
        """Join the run's process group. ``stop`` during the rendezvous (a peer died
        before it joined) frees this process for another rank at once; this thread,
        still waiting for the dead peer, then gives up without joining."""
        if not _SLOT.take(self, _FREE_WAIT_S):
            raise RuntimeError(
                f"TrainWorker (pid {os.getpid()}) still runs a rank of an earlier training "
                f"run after {_FREE_WAIT_S:g} s (its actor was killed but its loop has not "
                "ended; on Dask actors share worker processes); restart the Dask worker or "
                "lower EMBER_TRAIN_TIMEOUT_S so stuck collectives give up sooner")
        with self.leaving:
            self.phase = "rendezvous"
        os.environ.update(torchrun_env(rendezvous, num_cpus))
        os.environ.update(collectives_env(collectives_address))
        store = make_store(rendezvous.master_addr, rendezvous.master_port, rendezvous.rank,
                           rendezvous.world_size, self.listen_fd, timeout_s)
        with self.leaving:
            if self.abandoned is not None:
                raise RuntimeError(f"this rank was stopped during its rendezvous: "
                                   f"{self.abandoned}")
            self.phase = "initializing"
        init_process_group(rendezvous, use_gpu, num_cpus, store, timeout_s)
        with self.leaving:
            self.phase = "joined"
            abandoned = self.abandoned
        if abandoned is not None:  # stopped while joining: leave again
            self._leave()
            raise RuntimeError(f"this rank was stopped while joining: {abandoned}")

    def run(self, loop: Callable[..., Any], config: dict[str, Any], context: TrainContext,
            storage: RunStorage, checkpoint: Checkpoint | None, shards: dict[str, Any],
            next_checkpoint_index: int) -> None:
        """Run the user's loop to the end; its exception is the caller's."""
        session = WorkerSession(context, storage, checkpoint, shards, next_checkpoint_index)
        self.session = session
        self.started.set()
        _session.install(session)
        ended = False
        try:
            if _takes_config(loop):
                loop(config)
            else:
                loop()
            ended = True
        finally:
            session.finish()
            _session.install(None)
            # A rank that raised keeps the group until the driver has seen its error (the
            # others would fail first on the closed connections); ``stop`` then leaves it.
            if ended or session.stopped is not None:
                self._leave()

    def _leave(self, reason: str = "the run ended") -> None:
        """Leave the process group, so this process can host a rank of another run."""
        with self.leaving:
            phase = self.phase
            if phase in ("rendezvous", "initializing"):
                self.abandoned = reason  # the setup thread sees it once it is back
            if phase == "rendezvous":  # not joined yet: nothing to leave
                self.phase = "idle"
                _SLOT.give_back(self)
            if phase != "joined":
                return
            self.phase = "idle"
        leave_process_group()
        _SLOT.give_back(self)

    def next_reports(self, timeout: float) -> tuple[list[Report], bool]:
        """Reports since the last call, waiting up to ``timeout`` s; and whether the loop
        has ended."""
        if not self.started.wait(timeout) or self.session is None:
            return [], False
        return self.session.take_reports(timeout)

    def release(self, count: int, latest: Checkpoint | None) -> None:
        """Reports up to ``count`` are committed: let the waiting ``report`` return."""
        if self.session is not None:
            self.session.release(count, latest)

    def stop(self, reason: str) -> None:
        """The group is being torn down: a waiting (or later) ``report`` raises, saying why;
        a rank whose loop has ended (or never started) leaves the process group here."""
        if self.session is not None:
            self.session.stop(reason)
        if self.session is None or self.session.finished:
            self._leave(reason)


def _takes_config(loop: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(loop).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                      p.VAR_POSITIONAL)]
    return bool(positional)
