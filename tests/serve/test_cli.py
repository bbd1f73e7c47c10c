"""``ember serve run module:app`` until Ctrl-C, and ``ember serve status``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import httpx
from tests_support import wait_for
from tests_support.ports import free_port, port_is_open

APP = textwrap.dedent("""
    from ember import serve

    @serve.deployment(num_cpus=0)
    class Greeter:
        def __call__(self, request):
            return {"hello": request.query_params.get("name", "world")}

    app = Greeter.bind()
""")


def _ember(*args: str, cwd: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ember", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_serve_run_serves_until_ctrl_c_and_status_reports_it(tmp_path):
    (tmp_path / "greeter.py").write_text(APP)
    port = free_port()
    server = _ember("serve", "run", "greeter:app", "--port", str(port), cwd=str(tmp_path))
    try:
        assert wait_for(lambda: port_is_open(port) or server.poll() is not None, timeout=60)
        assert server.poll() is None, server.communicate()[1]
        assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/?name=cli").status_code
                        == 200, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{port}/?name=cli").json() == {"hello": "cli"}
        status = subprocess.run([sys.executable, "-m", "ember", "serve", "status", "--port",
                                 str(port), "--json"], capture_output=True, text=True, timeout=60,
                                check=False)
        assert status.returncode == 0, status.stderr
        app = json.loads(status.stdout)["applications"]["default"]
        assert app["status"] == "RUNNING"
        assert app["deployments"]["Greeter"]["status"] == "HEALTHY"
        table = subprocess.run([sys.executable, "-m", "ember", "serve", "status", "--port",
                                str(port)], capture_output=True, text=True, timeout=60, check=False)
        assert table.returncode == 0, table.stderr
        assert re.search(r"^default\s+RUNNING\s+/", table.stdout, re.MULTILINE), table.stdout
        assert re.search(r"^\s+Greeter\s+HEALTHY\s+1/1", table.stdout, re.MULTILINE), table.stdout
        busy = subprocess.run([sys.executable, "-m", "ember", "serve", "run", "greeter:app",
                               "--port", str(port)], capture_output=True, text=True, timeout=60,
                              check=False, cwd=str(tmp_path))
        assert busy.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr and "--port" in busy.stderr
        assert "Traceback" not in busy.stderr
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err
        assert "stopped" in out
        assert not port_is_open(port)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def test_serve_status_without_a_server_fails_with_a_hint(tmp_path):
    port = free_port()
    status = subprocess.run([sys.executable, "-m", "ember", "serve", "status", "--port",
                             str(port)], capture_output=True, text=True, timeout=60, check=False,
                            cwd=str(tmp_path))
    assert status.returncode == 1
    assert "ember serve run" in status.stderr


def test_serve_run_with_a_bad_import_path_says_what_is_expected(tmp_path):
    (tmp_path / "greeter.py").write_text(APP)
    for target, message in [("greeter", "is not module:attribute"),
                            ("greeter:nope", "has no attribute 'nope'"),
                            ("greeter:serve", "not an application"),
                            ("no_such_module:app", "no module 'no_such_module'")]:
        done = subprocess.run([sys.executable, "-m", "ember", "serve", "run", target],
                              capture_output=True, text=True, timeout=60, check=False, cwd=str(tmp_path))
        assert done.returncode == 1
        assert message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line, no traceback


def test_ember_version_still_works():
    done = subprocess.run([sys.executable, "-m", "ember", "--version"], capture_output=True,
                          text=True, timeout=60, env={**os.environ}, check=False)
    assert done.stdout.startswith("ember ")
