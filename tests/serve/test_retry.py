"""A request whose replica dies before answering: retried on another replica when that
is safe (an idempotent method), a 503 otherwise — never run twice without consent."""

from __future__ import annotations

import os

import httpx

from ember import serve


@serve.deployment(num_replicas=2, num_cpus=0)
class DiesOnce:
    """The first request to reach any replica kills that replica mid-request."""

    def __init__(self, marks: str):
        self.marks = marks

    def __call__(self, request):
        with open(os.path.join(self.marks, f"{os.getpid()}-{request.method}"), "w"):
            pass
        if not any(name.startswith("died") for name in os.listdir(self.marks)):
            open(os.path.join(self.marks, f"died-{os.getpid()}"), "w").close()
            os._exit(1)
        return {"pid": os.getpid()}


def _handled(marks, method):
    return [name for name in os.listdir(marks) if name.endswith(method)]


def test_a_get_whose_replica_dies_is_answered_by_another_replica(port, tmp_path):
    serve.run(DiesOnce.bind(str(tmp_path)), port=port)
    response = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
    assert response.status_code == 200
    died = next(name for name in os.listdir(tmp_path) if name.startswith("died"))
    assert str(response.json()["pid"]) != died.split("-")[1]
    assert len(_handled(tmp_path, "GET")) == 2  # the dead replica's try, then the retry


def test_a_post_whose_replica_dies_is_a_503_and_runs_once(port, tmp_path):
    serve.run(DiesOnce.bind(str(tmp_path)), port=port)
    response = httpx.post(f"http://127.0.0.1:{port}/", content=b"pay", timeout=30)
    assert response.status_code == 503
    assert "retry the request" in response.json()["error"]
    assert len(_handled(tmp_path, "POST")) == 1  # not sent again
    # the surviving replica (and the replacement) answer the next one
    assert httpx.post(f"http://127.0.0.1:{port}/", content=b"pay", timeout=30).status_code == 200
