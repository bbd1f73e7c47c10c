"""Serve benchmark: HTTP requests/s and latency on ember.serve, a plain uvicorn app, Ray Serve.

Usage (from the repo root)::

    python benchmarks/serve.py                    # ember + the plain starlette baseline, ratios
    python benchmarks/serve.py --duration 2       # shorter runs
    python benchmarks/serve.py --engine ray       # needs ray[serve] importable (see --compare)
    python benchmarks/serve.py --compare ray      # ember here, Ray Serve in benchmarks/.venv-ray

Prints one figure per line, ``name value unit`` (see ``_compare.py``); no thresholds.
Loopback only: every server binds 127.0.0.1. The load generator is ``wrk`` (Debian's
package; installed with apt-get when missing and this runs as root), one thread, for
``--duration`` seconds per point, after a one-second warm-up.

Workloads (``c1``: 1 connection, ``c32``: 32 connections; ``rps`` requests/s, ``p50_ms``
and ``p99_ms`` latency):

==================  ==============================================================
``plain_*``         a plain starlette app on one uvicorn worker, returning {"ok": 1}
                    (the single-process limit), in a child process
``json_1r_*``       a deployment returning {"ok": 1}, 1 replica
``json_2r_*``       the same, 2 replicas
``mlp_batch_c32``   a torch MLP (256 -> 2048 -> 2048 -> 10, one torch thread) with
                    ``@serve.batch(32)``
``mlp_nobatch_c32`` the same model, one forward pass per request
==================  ==============================================================

Ratios (unit ``x``): ``json_1r_c1_vs_plain``, ``json_1r_c32_vs_plain`` (requests/s,
target >= 0.5), ``json_1r_c1_p50_vs_plain`` (plain p50 / ours: target >= 0.5, i.e. at most
2x the plain app's latency), ``mlp_batching_gain`` (batched / unbatched requests/s at 32
connections, target >= 3). With ``--compare ray`` the table's ratio column gives
Ember / Ray Serve (target >= 10 for ``json_1r``).

Replicas take ``max_ongoing_requests=64`` for the MLP (so a batch of 32 can fill; Ray's
default of 5 caps batching, as the issue notes) and the defaults otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _compare import Figure, emit, run_compare

HERE = Path(__file__).resolve()
PLAIN_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def home(request):
    return JSONResponse({"ok": 1})

uvicorn.run(Starlette(routes=[Route("/", home)]), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("[serve] installing wrk with apt-get", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install wrk (Debian/Ubuntu)")
    return found


def _ms(text: str) -> float:
    """wrk's latency (``812.00us``, ``4.10ms``, ``1.02s``, ``1.50m``) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"unexpected latency from wrk: {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def load(url: str, connections: int, duration: float, body: str | None = None) -> dict[str, float]:
    """wrk against ``url``: requests/s, p50 and p99 latency (ms), non-2xx count."""
    wrk = ensure_wrk()
    script = None
    if body is not None:
        script = Path(f"/tmp/ember-serve-bench-{os.getpid()}.lua")
        script.write_text(f'wrk.method = "POST"\nwrk.body = [[{body}]]\n'
                          'wrk.headers["Content-Type"] = "application/json"\n')
    command = [wrk, "-t1", f"-c{connections}", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    subprocess.run([*command, "-d1s", url], capture_output=True, check=True)  # warm-up
    out = subprocess.run([*command, f"-d{duration:g}s", url], capture_output=True, text=True,
                         check=True).stdout
    if script is not None:
        script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines: "+/- Stdev" columns (e.g. "68.50%") end in % too.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": float(errors.group(1)) if errors else 0}


def report(name: str, result: dict[str, float]) -> dict[str, Figure]:
    figures = {f"{name}_rps": emit(f"{name}_rps", result["rps"], "per_s"),
               f"{name}_p50_ms": emit(f"{name}_p50_ms", result["p50"], "ms"),
               f"{name}_p99_ms": emit(f"{name}_p99_ms", result["p99"], "ms")}
    if result["errors"]:
        print(f"[serve] {name}: {int(result['errors'])} non-2xx responses", file=sys.stderr)
    return figures


def measure_plain(duration: float) -> dict[str, dict[str, float]]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", PLAIN_APP, str(port)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/"
        return {f"c{c}": load(url, c, duration) for c in (1, 32)}
    finally:
        server.terminate()
        server.wait()


# -- the deployments (the same code on ember.serve and ray.serve) ----------------------------
def define(serve_module):  # type: ignore[no-untyped-def]
    @serve_module.deployment
    class Json:
        async def __call__(self, request):  # type: ignore[no-untyped-def]
            return {"ok": 1}

    @serve_module.deployment(max_ongoing_requests=64)
    class Mlp:
        def __init__(self) -> None:
            import torch

            torch.set_num_threads(1)
            torch.manual_seed(0)
            self.torch = torch
            self.model = torch.nn.Sequential(
                torch.nn.Linear(256, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 2048),
                torch.nn.ReLU(), torch.nn.Linear(2048, 10)).eval()

        def forward(self, rows):  # type: ignore[no-untyped-def]
            with self.torch.no_grad():
                return self.model(self.torch.tensor(rows)).argmax(dim=1).tolist()

        @serve_module.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
        async def batched(self, rows):  # type: ignore[no-untyped-def]
            return self.forward(rows)

        async def __call__(self, request):  # type: ignore[no-untyped-def]
            row = (await request.json())["x"]
            if request.url.path.endswith("/batched"):
                return {"label": await self.batched(row)}
            return {"label": self.forward([row])[0]}

    return Json, Mlp


MLP_BODY = '{"x": [' + ", ".join(["0.5"] * 256) + "]}"


def measure_engine(engine: str, duration: float) -> dict[str, Figure]:
    if engine == "ember":
        import ember
        from ember import serve

        ember.init(num_cpus=2)
    else:
        import ray
        from ray import serve

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    port = free_port()
    if engine == "ray":
        serve.start(http_options={"host": "127.0.0.1", "port": port})
    run = (lambda app: serve.run(app, port=port)) if engine == "ember" else serve.run
    Json, Mlp = define(serve)
    url = f"http://127.0.0.1:{port}/"
    figures: dict[str, Figure] = {}
    try:
        run(Json.options(num_replicas=1, ray_actor_options={"num_cpus": 0}).bind())
        for c in (1, 32):
            figures |= report(f"json_1r_c{c}", load(url, c, duration))
        run(Json.options(num_replicas=2, ray_actor_options={"num_cpus": 0}).bind())
        for c in (1, 32):
            figures |= report(f"json_2r_c{c}", load(url, c, duration))
        run(Mlp.options(ray_actor_options={"num_cpus": 0}).bind())
        figures |= report("mlp_nobatch_c32", load(url + "plain", 32, duration, MLP_BODY))
        figures |= report("mlp_batch_c32", load(url + "batched", 32, duration, MLP_BODY))
        figures["mlp_batching_gain"] = emit(
            "mlp_batching_gain",
            figures["mlp_batch_c32_rps"].value / figures["mlp_nobatch_c32_rps"].value, "x")
    finally:
        serve.shutdown()
        if engine == "ember":
            ember.shutdown()
        else:
            ray.shutdown()
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("ember", "ray"), default="ember")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per point (4)")
    parser.add_argument("--compare", choices=("ray",), help="also run Ray Serve, print a table")
    args = parser.parse_args(argv)
    if args.engine == "ray":
        measure_engine("ray", args.duration)
        return
    plain = measure_plain(args.duration)
    for c, result in plain.items():
        report(f"plain_{c}", result)
    figures = measure_engine("ember", args.duration)
    emit("json_1r_c1_vs_plain", figures["json_1r_c1_rps"].value / plain["c1"]["rps"], "x")
    emit("json_1r_c32_vs_plain", figures["json_1r_c32_rps"].value / plain["c32"]["rps"], "x")
    emit("json_1r_c1_p50_vs_plain", plain["c1"]["p50"] / figures["json_1r_c1_p50_ms"].value, "x")
    if args.compare == "ray":
        run_compare(HERE, figures, ["--duration", str(args.duration)],
                    ray_packages=("ray[serve]==2.60.0", "torch==2.13.0"))


if __name__ == "__main__":
    main()
