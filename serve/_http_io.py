"""HTTP on the replica's side: rebuild a starlette ``Request``; turn results into bytes.

What a replica may return, and what the client gets:

    dict / list / int / float / bool / None -> JSON (application/json)
    str                                     -> text/plain; charset=utf-8
    bytes                                   -> application/octet-stream
    starlette Response                      -> passed through (status, headers, body)
    StreamingResponse, generator, async generator -> a streamed (chunked) response
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from typing import Any

# The parts of an ASGI scope that travel to the replica (plain, picklable values).
SCOPE_KEYS = ("type", "http_version", "method", "scheme", "path", "raw_path", "root_path",
              "query_string", "headers", "client", "server")

JSON = [(b"content-type", b"application/json")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
BYTES = [(b"content-type", b"application/octet-stream")]


def make_request(scope: dict[str, Any], body: bytes) -> Any:
    """A starlette Request whose body is ``body`` (already read by the proxy)."""
    from starlette.requests import Request

    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return Request(dict(scope, asgi={"version": "3.0"}), receive)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    raise TypeError(
        f"a {type(value).__name__} cannot be returned as JSON; return a dict, list, str, "
        "bytes or a starlette Response")


def encode_json(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def is_stream(result: Any) -> bool:
    from starlette.responses import StreamingResponse

    return (isinstance(result, StreamingResponse) or inspect.isgenerator(result)
            or inspect.isasyncgen(result))


def whole_response(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of a result that is not a stream."""
    if isinstance(result, bytes):
        return 200, BYTES, result
    if isinstance(result, str):
        return 200, TEXT, result.encode()
    from starlette.responses import Response

    if isinstance(result, Response):
        return result.status_code, list(result.raw_headers), bytes(result.body)
    return 200, JSON, encode_json(result)


def stream_head(result: Any) -> tuple[int, list[tuple[bytes, bytes]]]:
    from starlette.responses import StreamingResponse

    if isinstance(result, StreamingResponse):
        return result.status_code, [
            (k, v) for k, v in result.raw_headers if k != b"content-length"]
    return 200, TEXT


async def stream_chunks(result: Any) -> AsyncIterator[bytes]:
    """The chunks of a streamed result as bytes (str items are UTF-8 encoded, dicts JSON)."""
    from starlette.responses import StreamingResponse

    items = result.body_iterator if isinstance(result, StreamingResponse) else result
    if inspect.isasyncgen(items) or hasattr(items, "__aiter__"):
        async for item in items:
            yield _chunk(item)
    else:
        for item in items:
            yield _chunk(item)


def _chunk(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, memoryview):
        return bytes(item)
    return encode_json(item) + b"\n"


def error_body(error: BaseException, app: str, deployment: str) -> tuple[int, bytes]:
    """(status, JSON body) for a failed call: the type and message, no traceback."""
    status = getattr(error, "status_code", 500)
    if not isinstance(status, int) or not 400 <= status <= 599:
        status = 500
    detail = getattr(error, "detail", None)
    message = detail if isinstance(detail, str) else f"{type(error).__name__}: {error}"
    return status, encode_json({"error": message, "application": app,
                                "deployment": deployment})
