"""``ember serve run module:app`` and ``ember serve status``.

``run`` imports the application, serves it until Ctrl-C (or SIGTERM), then shuts
serve and the engine down. ``status`` asks a running proxy over HTTP (the serving
process may be another one) and prints the status as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run and inspect ember.serve applications")
    commands = serve.add_subparsers(title="serve commands", metavar="SERVE_COMMAND")
    serve.set_defaults(func=lambda _: serve.print_help())

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
    status.set_defaults(func=status_command)


def load_application(import_path: str, app_dir: str) -> Any:
    """The object named by ``module:attribute`` (a bound application, or a deployment)."""
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise SystemExit(
            f"ember serve run: {import_path!r} is not module:attribute; e.g. "
            "'ember serve run my_app:app' for `app = MyDeployment.bind()` in my_app.py")
    sys.path.insert(0, os.path.abspath(app_dir))
    module = importlib.import_module(module_name)
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise SystemExit(
            f"ember serve run: module {module_name!r} has no attribute {attribute!r}") from None
    from ember import serve

    if not isinstance(target, serve.Application) and hasattr(target, "bind"):
        target = target.bind()  # a deployment without arguments
    if not isinstance(target, serve.Application):
        raise SystemExit(
            f"ember serve run: {import_path} is a {type(target).__name__}, not an application; "
            "point it at `MyDeployment.bind(...)`")
    return target


def run_command(args: argparse.Namespace) -> int:
    import ember
    from ember import serve

    app = load_application(args.import_path, args.app_dir)
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
    except httpx.HTTPError as error:
        print(f"ember serve status: no serve proxy answers at {url} ({error}); start one "
              "with `ember serve run module:app`", file=sys.stderr)
        return 1
    print(json.dumps(response.json(), indent=2))
    return 0
