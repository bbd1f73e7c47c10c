"""DeploymentHandle: calls from the driver and between replicas (model composition)."""

from __future__ import annotations

import httpx
import pytest

from ember import serve


@serve.deployment
class Preprocess:
    def __call__(self, text):
        return text.strip().lower()


@serve.deployment
class Model:
    def __init__(self, bias):
        self.bias = bias

    async def predict(self, text):
        return {"text": text, "score": len(text) + self.bias}

    def fail(self):
        raise KeyError("missing feature")

    def tokens(self, text):
        yield from text.split()


@serve.deployment
class Pipeline:
    def __init__(self, preprocess, model):
        self.preprocess = preprocess
        self.model = model

    async def __call__(self, request):
        text = (await request.body()).decode()
        return await self.model.predict.remote(self.preprocess.remote(text))

    async def awaited(self, text):
        cleaned = await self.preprocess.remote(text)
        return await self.model.predict.remote(cleaned)


def test_composition_over_http_passes_responses_by_ref(port):
    serve.run(Pipeline.bind(Preprocess.bind(), Model.bind(bias=10)), port=port)
    response = httpx.post(f"http://127.0.0.1:{port}/", content=b"  HeLLo ")
    assert response.json() == {"text": "hello", "score": 15}


def test_handle_result_from_the_driver_and_method_calls(port):
    handle = serve.run(Pipeline.bind(Preprocess.bind(), Model.bind(bias=1)), port=port)
    assert handle.awaited.remote(" AB ").result() == {"text": "ab", "score": 3}
    status = serve.status().applications["default"]
    assert status.status == "RUNNING"
    assert set(status.deployments) == {"Preprocess", "Model", "Pipeline"}
    assert all(d.status == "HEALTHY" for d in status.deployments.values())


def test_get_app_handle_reaches_the_ingress_and_errors_keep_their_type(port):
    serve.run(Model.bind(bias=0), name="models", route_prefix=None, port=port)
    handle = serve.get_app_handle("models")
    assert handle.predict.remote("abc").result()["score"] == 3
    with pytest.raises(KeyError, match="missing feature"):
        handle.fail.remote().result()
    with pytest.raises(ValueError, match="no application named 'nope'"):
        serve.get_app_handle("nope")


def test_streaming_handle_yields_a_generators_items(port):
    handle = serve.run(Model.bind(bias=0), route_prefix=None, port=port)
    assert list(handle.options(stream=True).tokens.remote("a b c")) == ["a", "b", "c"]


def test_driver_response_feeds_another_handle_call(port):
    serve.run(Preprocess.bind(), name="pre", route_prefix=None, port=port)
    serve.run(Model.bind(bias=0), name="model", route_prefix=None, port=port)
    cleaned = serve.get_app_handle("pre").remote("  XY ")
    assert serve.get_app_handle("model").predict.remote(cleaned).result()["text"] == "xy"


def test_handles_spread_calls_over_replicas(port):
    @serve.deployment(num_replicas=2, num_cpus=0)
    class Who:
        def __call__(self):
            import os

            return os.getpid()

    handle = serve.run(Who.bind(), route_prefix=None, port=port)
    responses = [handle.remote() for _ in range(40)]
    assert len({r.result() for r in responses}) == 2


def test_handle_has_no_public_constructor():
    with pytest.raises(TypeError, match="serve.run"):
        serve.DeploymentHandle()
    with pytest.raises(TypeError, match="bind"):
        serve.Application()
