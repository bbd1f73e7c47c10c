"""A Dask LocalCluster in a process of its own, for ``ember.init(backend="dask")``.

Started inside the driver, a LocalCluster's worker processes are spawned by
multiprocessing, which re-imports the user's script in each of them: without an
``if __name__ == "__main__":`` guard, that script would start the cluster again (Dask's
"bootstrapping phase" error). Here the cluster lives in ``python -m
ember.core.dask._local``, whose own entry point is guarded, and the driver connects to it
as to any scheduler.

    driver ──stdin: pickled settings──> cluster process (LocalCluster on 127.0.0.1)
    driver <──stdout: "ember-dask-local <scheduler address>"──
    driver closes stdin (shutdown, exit or crash) ──> the cluster closes and the process exits

Workers see the driver's ``sys.path`` (as PYTHONPATH) and working directory, so what
the driver imports by name they can import too.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

from ..exceptions import EmberError

_READY = "ember-dask-local"
_CLOSE_TIMEOUT_S = 30.0


def split_resources(resources: dict[str, float], workers: int) -> list[dict[str, float]]:
    """Each worker's share of the session's GPUs and custom resources.

    A task asks for whole units of one worker, so ``foo: 1`` over two workers must not
    become ``foo: 0.5`` twice (no task needing ``foo=1`` could run). Whole amounts are
    dealt out in whole units, the first workers getting the remainder; anything else
    goes to the first worker.
    """
    shares: list[dict[str, float]] = [{} for _ in range(workers)]
    for key, amount in resources.items():
        if amount <= 0:
            continue
        if float(amount).is_integer() and amount >= workers:
            base, extra = divmod(int(amount), workers)
            for index, share in enumerate(shares):
                share[key] = float(base + (1 if index < extra else 0))
        elif float(amount).is_integer():
            for index in range(int(amount)):
                shares[index][key] = 1.0
        else:
            shares[0][key] = float(amount)
    return shares


class LocalClusterProcess:
    """The driver's handle on the cluster process: its address, and ``close()``."""

    def __init__(self, resources: list[dict[str, float]], security: Any):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ember.core.dask._local"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, cwd=os.getcwd())
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(pickle.dumps((resources, security)))
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # it died at start: the missing address line below says so
        line = self.process.stdout.readline().decode(errors="replace").strip()
        if not line.startswith(_READY + " "):
            code = self.process.wait()
            self.process.stdout.close()
            raise EmberError(
                f"the local Dask cluster for backend='dask' did not start (exit code {code}); "
                "its errors are above. Check that 'ember[dask]' is installed, or connect to "
                "a running scheduler with ember.init(address=...)")
        self.address = line.split(" ", 1)[1]

    def close(self) -> None:
        """Close the cluster (its workers first) and wait for the process to end."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(_CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _serve() -> None:
    """In the cluster process: start the cluster, say where, and run until stdin closes."""
    import copy

    import distributed

    resources, security = pickle.load(sys.stdin.buffer)
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", security=security,
        protocol="tls://" if security else None)
    try:
        for index, share in enumerate(resources):  # one spec per worker: its own share
            spec = copy.deepcopy(cluster.new_spec)
            spec["options"]["resources"] = share or None
            cluster.worker_spec[index] = spec
        cluster.sync(cluster._correct_state)  # type: ignore[no-untyped-call]
        with distributed.Client(cluster, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(len(resources), timeout=120)
        sys.stdout.write(f"{_READY} {cluster.scheduler_address}\n")
        sys.stdout.flush()
        sys.stdin.buffer.read()  # until the driver closes it, or dies
    finally:
        cluster.close()


if __name__ == "__main__":
    _serve()
