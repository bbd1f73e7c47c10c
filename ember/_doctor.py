"""``ember doctor``: what this machine gives Ember, and the fix for each problem found."""

from __future__ import annotations

import importlib.metadata
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

# (distribution, the extra that installs it)
_PACKAGES = [("numpy", None), ("cloudpickle", None), ("psutil", None), ("pyarrow", "data"),
             ("pandas", "data"), ("torch", "train"), ("optuna", "tune"), ("starlette", "serve"),
             ("uvicorn", "serve"), ("gymnasium", "rl"), ("distributed", "dask")]


@dataclass
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok     " if self.ok else "PROBLEM"
        return f"{mark} {self.what}" + (f"\n        fix: {self.fix}" if self.fix else "")


def versions() -> list[Finding]:
    found = [Finding(sys.version_info >= (3, 11), f"python {sys.version.split()[0]}",
                     "" if sys.version_info >= (3, 11) else "use Python 3.11 or newer")]
    for name, extra in _PACKAGES:
        try:
            found.append(Finding(True, f"{name} {importlib.metadata.version(name)}"))
        except importlib.metadata.PackageNotFoundError:
            hint = f"pip install 'ember[{extra}]'" if extra else f"pip install {name}"
            found.append(Finding(extra is not None, f"{name} not installed"
                                 + (f" (needed by ember.{extra})" if extra else ""),
                                 hint if extra is None else ""))
    return found


def machine() -> list[Finding]:
    import psutil

    found = []
    memory = psutil.virtual_memory()
    found.append(Finding(True, f"{os.cpu_count()} CPUs, {memory.total / 2**30:.1f} GiB RAM "
                               f"({memory.available / 2**30:.1f} GiB available)"))
    found.append(Finding(hasattr(os, "memfd_create"),
                         "shared memory: memfd_create " +
                         ("available (the object store needs no /dev/shm space)"
                          if hasattr(os, "memfd_create") else "missing"),
                         "" if hasattr(os, "memfd_create") else "run on Linux 3.17+"))
    if os.path.isdir("/dev/shm"):
        shm = shutil.disk_usage("/dev/shm")
        found.append(Finding(True, f"/dev/shm: {shm.free / 2**30:.1f} GiB free of "
                                   f"{shm.total / 2**30:.1f} GiB (used by Dask and torch "
                                   "DataLoader workers, not by Ember's store)"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    enough = soft == resource.RLIM_INFINITY or soft >= 1024
    found.append(Finding(enough, f"open files limit {soft} (hard {hard})",
                         "" if enough else "raise it: ulimit -n 4096 (each worker holds sockets)"))
    spill = os.environ.get("EMBER_SPILL_DIR") or tempfile.gettempdir()
    writable = os.access(spill, os.W_OK)
    free = shutil.disk_usage(spill).free / 2**30 if os.path.isdir(spill) else 0.0
    found.append(Finding(writable and free > 1, f"spill folder {spill}: "
                         f"{'writable' if writable else 'not writable'}, {free:.1f} GiB free",
                         "" if writable and free > 1 else
                         "set EMBER_SPILL_DIR to a writable folder with free space"))
    return found


def backend(check: Callable[[], str], name: str, fix: str) -> Finding:
    try:
        return Finding(True, f"{name}: {check()}")
    except Exception as error:  # noqa: BLE001  every failure is a finding, not a crash
        return Finding(False, f"{name}: {type(error).__name__}: {error}", fix)


def _embedded() -> str:
    import ember

    started = time.perf_counter()
    saved = os.environ.get("EMBER_CACHE_DIR")
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["EMBER_CACHE_DIR"] = scratch  # keep the user's last trace, not this one
        ember.init(num_cpus=1)
        try:
            assert ember.get(ember.remote(lambda: 42).remote(), timeout=30) == 42
        finally:
            ember.shutdown()
            if saved is None:
                os.environ.pop("EMBER_CACHE_DIR", None)
            else:
                os.environ["EMBER_CACHE_DIR"] = saved
    return f"ok (init to first task result in {(time.perf_counter() - started) * 1e3:.0f} ms)"


def _cluster(address: str) -> Callable[[], str]:
    def check() -> str:
        import ember

        ember.init(address=address)
        try:
            workers = ember.cluster_resources().get("CPU", 0)
            assert ember.get(ember.remote(lambda: 42).remote(), timeout=30) == 42
        finally:
            ember.shutdown()
        return f"reachable, {workers:g} CPUs, a task ran"
    return check


def run(address: str | None) -> int:
    """Print every finding; exit code 1 if any is a problem."""
    findings = [*versions(), *machine(),
                backend(_embedded, "embedded engine",
                        "see the error above; `python -c 'import ember; ember.init()'` shows "
                        "the full traceback")]
    if address:
        findings.append(backend(_cluster(address), f"dask cluster {address}",
                                "start it: `dask scheduler` and `dask worker <address>`, and "
                                "check the address and firewall"))
    else:
        findings.append(Finding(True, "dask cluster: not checked (pass --address tcp://host:8786)"))
    for finding in findings:
        print(finding.line())
    problems = [f for f in findings if not f.ok]
    print(f"\n{len(problems)} problem(s) found" if problems else "\nno problems found")
    return 1 if problems else 0
