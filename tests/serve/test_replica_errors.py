"""What a failing replica tells its user: the traceback of their own file, line and source
(core's ``dumps_keeping_filenames`` keeps code file names as the task pickler does), and one request line
per HTTP request on the ``ember.serve`` logger, at INFO."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from typing import Any

import cloudpickle
import httpx
import pytest
from ember.core.serialization import dumps_keeping_filenames
from ember.serve._replica import Replica
from tests_support import wait_for

from ember import serve


@serve.deployment
class Failing:
    def __call__(self, request: Any) -> Any:
        if request.url.path == "/ok":
            return "fine"
        raise ValueError(f"cannot serve {request.url.path}")

    def compute(self, x: int) -> int:
        return self._deeper(x)

    def _deeper(self, x: int) -> int:
        raise KeyError(f"no value for {x}")


# In this process cloudpickle hands back the original class (and re-sets its methods)
# rather than a copy, so the tests that unpickle here use a function deployment.
@serve.deployment
def failing(request: Any) -> Any:
    if request.url.path == "/ok":
        return "fine"
    raise ValueError(f"cannot serve {request.url.path}")


_RAISE_VALUE = 'raise ValueError(f"cannot serve {request.url.path}")'
_RAISE_KEY = 'raise KeyError(f"no value for {x}")'


def _line_of(source_line: str, occurrence: int = 1) -> int:
    """The number of the ``occurrence``-th line of this file that reads ``source_line``."""
    with open(__file__) as source:
        numbers = [n for n, line in enumerate(source, 1) if line.strip() == source_line]
    return numbers[occurrence - 1]


def test_the_deployment_pickler_keeps_the_users_file_line_and_source_in_tracebacks():
    target, args, kwargs = cloudpickle.loads(dumps_keeping_filenames((failing.func_or_class, (7,), {})))
    assert target is not failing.func_or_class  # pickled by value, as replicas get it
    assert (args, kwargs) == ((7,), {})
    with pytest.raises(ValueError) as info:
        target(_FakeRequest("/x"))
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.filename, frame.name) == (__file__, "failing")
    assert (frame.lineno, frame.line) == (_line_of(_RAISE_VALUE, 2), _RAISE_VALUE)


def test_plain_cloudpickle_loses_the_file_name():  # why serve uses core's pickler
    target, _, _ = cloudpickle.loads(cloudpickle.dumps((failing.func_or_class, (), {})))
    assert target.__code__.co_filename == "<dynamic-code>"


class _FakeRequest:
    def __init__(self, path: str):
        self.url = self
        self.path = path


def test_replica_traceback_names_the_users_file_line_and_source(port, capfd):
    handle = serve.run(Failing.bind(), port=port)
    response = httpx.get(f"http://127.0.0.1:{port}/nowhere")
    assert response.status_code == 500
    assert response.json()["error"] == "ValueError: cannot serve /nowhere"
    assert "Traceback" not in response.text  # the trace is for the log, not the client
    seen: list[str] = []

    def logged() -> bool:
        seen.append(capfd.readouterr().err)
        return "ValueError: cannot serve /nowhere" in "".join(seen)

    assert wait_for(logged)
    log = "".join(seen)
    assert f'File "{__file__}", line {_line_of(_RAISE_VALUE)}, in __call__' in log
    assert _RAISE_VALUE in log
    assert "<dynamic-code>" not in log and "_serve_http" not in log
    assert "GET /nowhere" not in log  # the request line is INFO: off by default

    with pytest.raises(KeyError) as info:
        handle.compute.remote(3).result()
    text = str(info.value)
    assert f'File "{__file__}", line {_line_of(_RAISE_KEY)}, in _deeper' in text
    assert _RAISE_KEY in text


def _serve(replica: Replica, method: str, path: str) -> list[tuple[Any, ...]]:
    scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    frames: list[tuple[Any, ...]] = []
    asyncio.run(replica._serve_http(frames.append, 1, scope, b""))
    return frames


@pytest.fixture
def replica() -> Replica:
    return Replica("app", "failing", "r1", dumps_keeping_filenames((failing.func_or_class, (), {})), True)


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/ok", 200),
    ("POST", "/broken", 500),
])
def test_each_http_request_is_one_info_line_with_method_path_status_and_ms(
        replica, caplog, method, path, status):
    caplog.set_level(logging.INFO, logger="ember.serve")
    _serve(replica, method, path)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 1
    assert re.fullmatch(rf"{method} {path} {status} \d+\.\dms", lines[0])
    assert all(r.name == "ember.serve" for r in caplog.records)


def test_request_line_is_not_logged_or_formatted_at_warning(replica, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="ember.serve")
    monkeypatch.setattr(logging.getLogger("ember.serve"), "info",
                        lambda *a, **k: pytest.fail("logger.info called while disabled"))
    assert _serve(replica, "GET", "/ok")[0][2] == 200
    assert caplog.records == []


def test_failed_request_logs_the_user_traceback_without_the_replica_frame(replica, caplog):
    caplog.set_level(logging.WARNING, logger="ember.serve")
    frames = _serve(replica, "GET", "/broken")
    assert frames[0][:3] == ("x", 1, 500)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert message.startswith("request to app/failing failed:\nTraceback")
    assert f'File "{__file__}", line {_line_of(_RAISE_VALUE, 2)}, in failing' in message
    assert _RAISE_VALUE in message
    assert "_serve_http" not in message
