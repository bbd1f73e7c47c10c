"""``ember serve run module:app`` and ``ember serve status``.

``run`` imports the application, serves it until Ctrl-C (or SIGTERM), then shuts
serve and the engine down. ``status`` asks a running proxy over HTTP (the serving
process may be another one) and prints a table of applications and deployments
(``--json``: the status as JSON).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import sys
import threading
from typing import Any

from ember._command_error import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run and inspect ember.serve applications")
    commands = serve.add_subparsers(title="serve commands", metavar="SERVE_COMMAND")
    serve.set_defaults(func=lambda _: (serve.print_help(), 2)[1])

    run = commands.add_parser("run", help="serve an application until Ctrl-C")
    run.add_argument("import_path", help="module:attribute of a bound application, e.g. app:app")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    run.add_argument("--name", default="default", help="application name (default)")
    run.add_argument("--route-prefix", default="/", help="route prefix (/)")
    run.add_argument("--app-dir", default=".", help="folder put on sys.path first (.)")
    run.set_defaults(func=run_command)

    status = commands.add_parser("status", help="print the status of a running serve")
    status.add_argument("--host", default="127.0.0.1", help="the proxy's address (127.0.0.1)")
    status.add_argument("--port", type=int, default=8000, help="the proxy's port (8000)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=status_command)


def load_application(import_path: str, app_dir: str) -> Any:
    """The object named by ``module:attribute`` (a bound application, or a deployment)."""
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise CommandError(
            f"{import_path!r} is not module:attribute; e.g. "
            "'ember serve run my_app:app' for `app = MyDeployment.bind()` in my_app.py")
    sys.path.insert(0, os.path.abspath(app_dir))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name.split(".")[0] and error.name != module_name:
            raise  # the application itself imports something missing: its own error
        raise CommandError(
            f"no module {module_name!r} in {os.path.abspath(app_dir)} or on sys.path; run "
            "the command from the folder holding it, or pass --app-dir") from error
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise CommandError(f"module {module_name!r} has no attribute {attribute!r}") from None
    from ember import serve

    if not isinstance(target, serve.Application) and hasattr(target, "bind"):
        target = target.bind()  # a deployment without arguments
    if not isinstance(target, serve.Application):
        raise CommandError(
            f"{import_path} is a {type(target).__name__}, not an application; "
            "point it at `MyDeployment.bind(...)`")
    return target


def check_port_free(host: str, port: int) -> None:
    """Fail before starting anything when another server holds the port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(
                f"cannot listen on {host}:{port}: {error.strerror}; stop what holds it or "
                "pick another port with --port") from error


def run_command(args: argparse.Namespace) -> int:
    import ember
    from ember import serve

    app = load_application(args.import_path, args.app_dir)
    check_port_free(args.host, args.port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        serve.run(app, name=args.name, route_prefix=args.route_prefix, host=args.host,
                  port=args.port)
        print(f"ember serve: {args.import_path} at http://{args.host}:{args.port}"
              f"{args.route_prefix} (Ctrl-C to stop)", flush=True)
        stop.wait()
    finally:
        serve.shutdown()
        ember.shutdown()
    print("ember serve: stopped", flush=True)
    return 0


def status_command(args: argparse.Namespace) -> int:
    import httpx

    url = f"http://{args.host}:{args.port}/-/status"
    try:
        response = httpx.get(url, timeout=10)
        status = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise CommandError(
            f"no serve proxy answers at {url} ({error}); start one with `ember serve run "
            "module:app`, or pass the --host/--port it listens on") from error
    print(json.dumps(status, indent=2) if args.json else status_table(status))
    return 0


def status_table(status: dict[str, Any]) -> str:
    """Applications and their deployments, one row each, for a terminal."""
    rows = [("APPLICATION", "DEPLOYMENT", "STATUS", "REPLICAS", "ROUTE", "MESSAGE")]
    for name, app in sorted(status.get("applications", {}).items()):
        rows.append((name, "", app.get("status", ""), "", app.get("route_prefix") or "",
                     app.get("message", "")))
        for dname, dep in sorted(app.get("deployments", {}).items()):
            states = dep.get("replica_states", {})
            running = states.get("RUNNING", 0)
            replicas = f"{running}/{dep.get('target_replicas', running)}"
            rows.append(("", dname, dep.get("status", ""), replicas, "", dep.get("message", "")))
    if len(rows) == 1:
        return "no applications are running"
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
        for row in rows).rstrip()
