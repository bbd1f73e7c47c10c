"""Only the user who runs serve can reach its replicas' sockets (no pickle from others)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import httpx
import pytest
from tests_support.ports import free_port

from ember import serve

pytestmark = pytest.mark.skipif(
    os.getuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to connect as another user (nobody)")

INTRUDER = textwrap.dedent("""
    import os, pickle, socket, sys, time
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + sys.argv[2],))
    body = pickle.dumps(("h", 1, Payload(), b""))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect("\\0" + sys.argv[1])
    try:
        sock.sendall(len(body).to_bytes(4, "big") + body)
        sock.settimeout(5)
        print("answered" if sock.recv(1) else "closed")
    except OSError as error:
        print("closed", error)
""")


def _replica_sockets() -> list[str]:
    with open("/proc/net/unix") as table:
        return sorted({line.split()[-1][1:] for line in table
                       if "ember-serve-" in line.split()[-1]})


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Echo:
    def __call__(self, request):
        return {"ok": True}


def test_another_local_user_cannot_send_a_replica_a_pickle(session):
    port = free_port()
    serve.run(Echo.bind(), port=port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/").json() == {"ok": True}
        names = _replica_sockets()
        assert names, "the replica's abstract socket is listed (any user can see it)"
        marker = "/tmp/ember-serve-pwned-" + os.urandom(4).hex()
        for name in names:
            done = subprocess.run(
                ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 sys.executable, "-I", "-c", INTRUDER, name, marker],
                capture_output=True, text=True, timeout=60, check=False)
            assert done.stdout.startswith("closed"), done.stdout + done.stderr
        assert not os.path.exists(marker), "a pickle from another user was run"
        assert httpx.get(f"http://127.0.0.1:{port}/").json() == {"ok": True}  # still serving
    finally:
        serve.shutdown()
