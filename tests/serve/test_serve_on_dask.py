"""ember.serve's main flow on the dask backend (real Dask scheduler and worker processes)."""

from __future__ import annotations

import httpx
import pytest
from tests_support.dask_cluster import dask_cluster
from tests_support.ports import free_port, port_is_open

import ember
from ember import serve

pytestmark = pytest.mark.cluster


@serve.deployment(num_cpus=0)
class Scale:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, x):
        return x * self.factor


@serve.deployment(num_cpus=0)
class Front:
    def __init__(self, scale):
        self.scale = scale

    async def __call__(self, request):
        return {"y": await self.scale.remote(float(request.query_params["x"]))}


def test_http_and_composition_on_dask():
    ember.shutdown()
    with dask_cluster(workers=2, resources="CPU=4") as (address, _):
        ember.init(address=address)
        port = free_port()
        try:
            handle = serve.run(Front.bind(Scale.bind(3)), port=port)
            assert httpx.get(f"http://127.0.0.1:{port}/", params={"x": 2}, timeout=20).json() \
                == {"y": 6.0}
            status = serve.status().applications["default"]
            assert status.status == "RUNNING"
            assert status.deployments["Scale"].status == "HEALTHY"
            assert handle is not None
            serve.shutdown()
            assert not port_is_open(port)
        finally:
            serve.shutdown()
            ember.shutdown()
