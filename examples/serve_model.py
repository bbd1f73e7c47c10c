"""Serve a torch model over HTTP: preprocess -> batched model, composed with handles.

Run it with the project's environment: `.venv/bin/python examples/serve_model.py`.
It trains nothing: the model is a small MLP with fixed random weights, so the example
needs no data. It starts the server on 127.0.0.1 (pass a port as the first argument,
default 8000), sends a few concurrent requests, prints the answers and shuts down.

    POST /  {"features": [4 numbers]}
      -> Ingress --handle--> Preprocess (scale the features)
                 --handle--> Classifier (torch MLP, @serve.batch: one forward pass
                                         for every request waiting together)
      <- {"label": int, "probabilities": [...]}
"""

import concurrent.futures
import sys

import httpx
import torch

import ember
from ember import serve


@serve.deployment(num_cpus=0)
class Preprocess:
    """Feature scaling, as a separate deployment so it can scale on its own."""

    def __init__(self, mean: list[float], std: list[float]):
        self.mean = torch.tensor(mean)
        self.std = torch.tensor(std)

    def __call__(self, features: list[float]) -> torch.Tensor:
        return (torch.tensor(features, dtype=torch.float32) - self.mean) / self.std


@serve.deployment(num_cpus=1)
class Classifier:
    """A 4 -> 16 -> 3 MLP; requests arriving together share one forward pass."""

    def __init__(self, seed: int):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
        self.batch_sizes: list[int] = []

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def predict(self, rows: list[torch.Tensor]) -> list[dict]:
        self.batch_sizes.append(len(rows))
        with torch.no_grad():
            probabilities = torch.softmax(self.model(torch.stack(rows)), dim=1)  # (batch, 3)
        return [{"label": int(p.argmax()), "probabilities": [round(float(x), 4) for x in p]}
                for p in probabilities]

    def largest_batch(self) -> int:
        return max(self.batch_sizes, default=0)


@serve.deployment(num_cpus=0)
class Ingress:
    """The HTTP entry point: parse, then preprocess -> model by handle."""

    def __init__(self, preprocess, classifier):
        self.preprocess = preprocess
        self.classifier = classifier

    async def __call__(self, request):
        features = (await request.json())["features"]
        # The preprocess response goes to the model by ref, without waiting here.
        return await self.classifier.predict.remote(self.preprocess.remote(features))

    async def largest_batch(self) -> int:
        return await self.classifier.largest_batch.remote()


def main(port: int) -> None:
    ember.init(num_cpus=2)
    app = Ingress.bind(Preprocess.bind(mean=[5.8, 3.0, 3.7, 1.2], std=[0.8, 0.4, 1.8, 0.8]),
                       Classifier.bind(seed=0))
    serve.run(app, port=port)
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]] * 8
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda row: httpx.post(
            f"http://127.0.0.1:{port}/", json={"features": row}, timeout=60).json(), rows))
    for row, answer in zip(rows[:3], answers[:3]):
        print(f"{row} -> label {answer['label']} {answer['probabilities']}")
    largest = serve.get_app_handle("default").largest_batch.remote().result()
    print(f"answered {len(answers)} requests; largest batch {largest}; status",
          serve.status().applications["default"].status)
    serve.shutdown()
    ember.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
