"""ember.serve: HTTP model serving on Ember actors.

Deployments run as replicas (actors) behind one uvicorn + starlette proxy; handles call
them from Python for model composition; ``serve.batch`` groups concurrent requests.

Example::

    from ember import serve

    @serve.deployment(num_replicas=2)
    class Doubler:
        async def __call__(self, request):
            return {"result": 2 * float(await request.body())}

    handle = serve.run(Doubler.bind(), port=8000)   # curl -d 21 127.0.0.1:8000/
    serve.shutdown()
"""

from ._api import delete, get_app_handle, run, shutdown, status
from ._application import Application
from ._batching import batch
from ._deployment import deployment
from ._handle import DeploymentHandle

__all__ = [
    "Application",
    "DeploymentHandle",
    "batch",
    "delete",
    "deployment",
    "get_app_handle",
    "run",
    "shutdown",
    "status",
]
