"""The HTTP proxy, end to end: real uvicorn on a free loopback port, httpx as the client."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from starlette.responses import PlainTextResponse, StreamingResponse
from tests_support import wait_for

from ember import serve


@serve.deployment
class Echo:
    async def __call__(self, request):
        return {"method": request.method, "path": request.url.path,
                "root_path": request.scope["root_path"],
                "query": dict(request.query_params), "body": (await request.body()).decode()}


@serve.deployment
def hello(request):
    return f"hello {request.query_params.get('name', 'world')}"


def test_class_deployment_gets_a_starlette_request(port):
    serve.run(Echo.bind(), port=port)
    response = httpx.post(f"http://127.0.0.1:{port}/items/7?x=1", content=b"payload")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"method": "POST", "path": "/items/7", "root_path": "",
                               "query": {"x": "1"}, "body": "payload"}


def test_function_deployment_returning_str_is_text(port):
    serve.run(hello.bind(), port=port)
    response = httpx.get(f"http://127.0.0.1:{port}/?name=ember")
    assert response.text == "hello ember"
    assert response.headers["content-type"].startswith("text/plain")


@serve.deployment
class Kinds:
    async def __call__(self, request):
        kind = request.query_params["kind"]
        if kind == "bytes":
            return b"\x00\x01"
        if kind == "list":
            return [1, 2, 3]
        if kind == "response":
            return PlainTextResponse("teapot", status_code=418, headers={"x-ember": "yes"})
        if kind == "none":
            return None
        raise ValueError(f"bad kind {kind}")


@pytest.mark.parametrize("kind, status, content_type, body", [
    ("bytes", 200, "application/octet-stream", b"\x00\x01"),
    ("list", 200, "application/json", b"[1,2,3]"),
    ("response", 418, "text/plain; charset=utf-8", b"teapot"),
    ("none", 200, "application/json", b"null"),
])
def test_return_values_become_http_responses(port, kind, status, content_type, body):
    serve.run(Kinds.bind(), port=port)
    response = httpx.get(f"http://127.0.0.1:{port}/", params={"kind": kind})
    assert (response.status_code, response.headers["content-type"], response.content) == (
        status, content_type, body)
    if kind == "response":
        assert response.headers["x-ember"] == "yes"


def test_replica_exception_is_a_500_with_a_json_error_and_no_traceback(port):
    serve.run(Kinds.bind(), port=port)
    response = httpx.get(f"http://127.0.0.1:{port}/", params={"kind": "oops"})
    assert response.status_code == 500
    error = response.json()
    assert error["error"] == "ValueError: bad kind oops"
    assert error["deployment"] == "Kinds"
    assert "Traceback" not in response.text
    # the replica keeps serving
    assert httpx.get(f"http://127.0.0.1:{port}/", params={"kind": "list"}).json() == [1, 2, 3]


def test_unknown_route_is_404_and_longest_prefix_wins(port):
    serve.run(Echo.bind(), name="api", route_prefix="/api", port=port)
    serve.run(Echo.options(name="Echo2").bind(), name="api_v2", route_prefix="/api/v2",
              port=port)
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/other").status_code == 404
    assert httpx.get(f"{base}/apix").status_code == 404
    assert httpx.get(f"{base}/api/x").json()["root_path"] == "/api"
    assert httpx.get(f"{base}/api/v2/x").json()["root_path"] == "/api/v2"
    assert httpx.get(f"{base}/-/routes").json() == {"/api": "api", "/api/v2": "api_v2"}


@serve.deployment
class Streamer:
    async def __call__(self, request):
        count = int(request.query_params["n"])
        if request.query_params.get("kind") == "starlette":
            async def numbers():
                for i in range(count):
                    yield f"{i},"
            return StreamingResponse(numbers(), media_type="text/csv")
        return self.lines(count)

    def lines(self, count):
        for i in range(count):
            yield f"line {i}\n"


@pytest.mark.parametrize("kind, expected_type, expected", [
    ("generator", "text/plain; charset=utf-8", "".join(f"line {i}\n" for i in range(5))),
    ("starlette", "text/csv; charset=utf-8", "0,1,2,3,4,"),
])
def test_generators_and_streaming_responses_stream(port, kind, expected_type, expected):
    serve.run(Streamer.bind(), port=port)
    chunks: list[str] = []
    with httpx.stream("GET", f"http://127.0.0.1:{port}/",
                      params={"n": 5, "kind": kind}) as response:
        assert response.headers["content-type"] == expected_type
        assert response.headers.get("transfer-encoding") == "chunked"
        chunks.extend(response.iter_text())
    assert "".join(chunks) == expected


@serve.deployment(max_ongoing_requests=1, max_queued_requests=1)
class Gate:
    def __init__(self):
        self.opened = None
        self.entered = 0

    async def __call__(self, request):
        if self.opened is None:
            self.opened = asyncio.Event()
        self.entered += 1
        await self.opened.wait()
        return "passed"

    def open(self):
        self.opened.set()

    def count(self):
        return self.entered


def _proxy_queue() -> int:
    from ember.serve import _client

    import ember

    proxy = ember.get_actor(_client.PROXY_NAME, namespace=_client.NAMESPACE)
    return sum(ember.get(proxy.queue_lengths.remote()).values())


def test_full_replicas_and_full_queue_answer_503(port):
    handle = serve.run(Gate.bind(), port=port)
    base = f"http://127.0.0.1:{port}"
    results: list[int] = []

    def blocked_request():
        results.append(httpx.get(f"{base}/wait", timeout=30).status_code)

    threads = [threading.Thread(target=blocked_request) for _ in range(2)]
    threads[0].start()
    assert wait_for(lambda: handle.count.remote().result() == 1)  # in the replica
    threads[1].start()
    assert wait_for(lambda: _proxy_queue() == 1)  # in the proxy's queue
    response = httpx.get(f"{base}/wait", timeout=30)
    assert response.status_code == 503
    assert "busy" in response.json()["error"]
    handle.open.remote().result()  # handles are not limited by the proxy's queue
    for thread in threads:
        thread.join(timeout=30)
    assert results == [200, 200]


@serve.deployment
class Slow:
    async def __call__(self, request):
        await asyncio.sleep(float(request.query_params["s"]))
        return "done"


def test_request_slower_than_request_timeout_is_408(port):
    serve.run(Slow.bind(), port=port, request_timeout_s=0.2)
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/", params={"s": 5}).status_code == 408
    assert httpx.get(f"{base}/", params={"s": 0}).text == "done"


def test_malformed_http_gets_400_and_the_proxy_keeps_serving(port):
    import socket

    serve.run(hello.bind(), port=port)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")
    assert httpx.get(f"http://127.0.0.1:{port}/").text == "hello world"
