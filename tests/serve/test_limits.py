"""The proxy caps request bodies (413) and headers (431), without buffering what it refuses."""

from __future__ import annotations

import httpx
import psutil
import pytest

from ember import serve


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Size:
    async def __call__(self, request):
        return {"bytes": len(await request.body())}


def _serve(port: int, **limits: int) -> str:
    serve.run(Size.bind(), port=port, **limits)
    return f"http://127.0.0.1:{port}/"


def test_a_body_within_the_limit_is_served(port):
    url = _serve(port, max_request_body_bytes=1024)
    assert httpx.post(url, content=b"x" * 1024).json() == {"bytes": 1024}


def test_a_declared_length_over_the_limit_is_413_unread(port):
    url = _serve(port, max_request_body_bytes=1024)
    response = httpx.post(url, content=b"x" * 4096)
    assert response.status_code == 413
    assert "max_request_body_bytes" in response.json()["error"]
    assert httpx.post(url, content=b"ok").json() == {"bytes": 2}  # the proxy lives on


def test_a_chunked_body_is_cut_off_at_the_limit(port):
    url = _serve(port, max_request_body_bytes=64 * 1024)

    def chunks():
        for _ in range(64):
            yield b"y" * 4096   # 256 KiB with no Content-Length (chunked)

    response = httpx.post(url, content=chunks())
    assert response.status_code == 413


def test_headers_over_the_limit_are_431(port):
    url = _serve(port, max_request_header_bytes=8 * 1024)
    response = httpx.get(url, headers={"x-big": "z" * 16 * 1024})
    assert response.status_code == 431
    assert "max_request_header_bytes" in response.json()["error"]
    assert httpx.get(url, headers={"x-small": "z"}).status_code == 200


def test_by_default_a_200_mb_post_is_refused_without_the_proxy_growing(port):
    url = _serve(port)
    proxy = [p for p in psutil.Process().children(recursive=True)
             if p.is_running()]  # every session process; the proxy is among them
    before = {p.pid: p.memory_info().rss for p in proxy}
    body = b"\0" * (200 * 1024 * 1024)
    response = httpx.post(url, content=body, timeout=120)
    assert response.status_code == 413
    grown = max(p.memory_info().rss - before[p.pid] for p in proxy if p.is_running())
    assert grown < 50 * 1024 * 1024  # not the 200 MB (the proxy grew ~765 MB before)


@pytest.mark.parametrize("limit", ["max_request_body_bytes", "max_request_header_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_a_bad_limit_names_the_argument(session, limit, value):
    with pytest.raises(ValueError, match=limit):
        serve.run(Size.bind(), **{limit: value})
