"""The whole chain on real data: data -> tune a TorchTrainer -> serve the best model -> HTTP.

    1. data   scikit-learn's digits (shipped with it) written to parquet and read back with
              ember.data, standardized by a map_batches stage
    2. tune   an MLP's learning rate and hidden size, ASHA + OptunaSearch, each trial a
              TorchTrainer whose worker streams its shard of the dataset by ref
    3. serve  the best trial's checkpoint behind HTTP on 127.0.0.1 (Model.bind(checkpoint)),
              requests batched with serve.batch
    4. query  every held-out digit over HTTP and print the served model's accuracy

    python examples/end_to_end.py                      # embedded engine, ~1-2 minutes
    python examples/end_to_end.py --smoke              # a few seconds (the test suite's run)
    python examples/end_to_end.py --address tcp://host:8786   # on a Dask cluster
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import tempfile
import time
from typing import Any

import cloudpickle
import httpx
import numpy as np
import torch
import train_digits
from train_digits import load_splits, make_model, train_loop

import ember
from ember import data, serve, train, tune

# Ship this folder's functions by value, so cluster workers need not have it.
cloudpickle.register_pickle_by_value(train_digits)


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
class DigitModel:
    """The tuned MLP, loaded from its checkpoint; requests arriving together share one
    forward pass."""

    def __init__(self, checkpoint: train.Checkpoint, hidden: int, mean: list[float],
                 std: list[float]):
        torch.set_num_threads(1)
        self.model = make_model(hidden)
        with checkpoint.as_directory() as folder:
            self.model.load_state_dict(torch.load(os.path.join(folder, "model.pt")))
        self.model.eval()
        self.mean, self.std = torch.tensor(mean), torch.tensor(std)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def predict(self, pixels: list[list[float]]) -> list[dict[str, int]]:
        x = (torch.tensor(pixels, dtype=torch.float32) - self.mean) / self.std  # (batch, 64)
        with torch.no_grad():
            digits = self.model(x).argmax(dim=1)
        return [{"digit": int(d)} for d in digits]

    async def __call__(self, request) -> dict[str, int]:
        return await self.predict((await request.json())["pixels"])


def stage(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)


def prepare_data(folder: str) -> tuple[data.Dataset, dict]:
    """Digits -> parquet -> read back -> standardized training rows (by ember.data)."""
    splits = load_splits()
    raw = os.path.join(folder, "digits.parquet")
    data.from_items([{"x": x, "y": int(y)} for x, y in zip(*splits["train"])]).write_parquet(raw)
    mean, std = splits["train"][0].mean(axis=0), splits["train"][0].std(axis=0) + 1e-3

    def standardize(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"x": ((batch["x"] - mean) / std).astype(np.float32), "y": batch["y"]}

    rows = data.read_parquet(raw).map_batches(standardize).materialize()
    return rows, {"splits": splits, "mean": mean, "std": std}


def tune_model(rows: data.Dataset, prep: dict, samples: int, epochs: int, storage: str,
               concurrent: int = 2) -> Any:
    val_x, val_y = prep["splits"]["validation"]
    trainer = train.TorchTrainer(
        train_loop,
        train_loop_config={"batch_size": 32, "epochs": epochs,
                           "validation": ((val_x - prep["mean"]) / prep["std"], val_y)},
        scaling_config=train.ScalingConfig(num_workers=1),
        datasets={"train": rows})
    return tune.Tuner(
        trainer,
        param_space={"train_loop_config": {"lr": tune.loguniform(3e-4, 1e-2),
                                           "hidden": tune.choice([64, 128, 256])}},
        tune_config=tune.TuneConfig(
            metric="accuracy", mode="max", num_samples=samples, max_concurrent_trials=concurrent,
            search_alg=tune.OptunaSearch(seed=0),
            scheduler=tune.ASHAScheduler(max_t=epochs, grace_period=min(3, epochs),
                                         reduction_factor=2)),
        run_config=tune.RunConfig(
            name=f"end_to_end_{int(time.time())}", storage_path=storage,
            checkpoint_config=train.CheckpointConfig(num_to_keep=1,
                                                     checkpoint_score_attribute="accuracy")),
    ).fit()


def query(url: str, pixels: np.ndarray, labels: np.ndarray) -> float:
    """Every test digit as its own HTTP request, 16 at a time; the served accuracy."""
    with httpx.Client(timeout=30) as client, concurrent.futures.ThreadPoolExecutor(16) as pool:
        def ask(row: np.ndarray) -> int:
            response = client.post(url, json={"pixels": row.tolist()})
            response.raise_for_status()
            return int(response.json()["digit"])

        predicted = list(pool.map(ask, pixels))
    return float((np.array(predicted) == labels).mean())


def main() -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 trials x 2 epochs, 100 queries")
    parser.add_argument("--address", help="run on this Dask cluster (tcp://host:8786)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    samples, epochs = (2, 2) if args.smoke else (args.samples, args.epochs)
    started = time.monotonic()

    ember.init(address=args.address) if args.address else ember.init()
    with tempfile.TemporaryDirectory() as folder:
        rows, prep = prepare_data(folder)
        stage(f"data: {rows.count()} training digits written to parquet, read back and "
              "standardized", started)
        # On Dask, actors share worker processes and torch's process group is one per
        # process: run one TorchTrainer trial at a time there (see the README's table).
        grid = tune_model(rows, prep, samples, epochs, os.path.join(folder, "results"),
                          concurrent=1 if args.address else 2)
        best = grid.get_best_result(scope="all")
        checkpoint, metrics = best.best_checkpoints[0]
        hidden = best.config["train_loop_config"]["hidden"]
        stage(f"tune: {len(grid)} trials; best lr={best.config['train_loop_config']['lr']:.2g} "
              f"hidden={hidden}, validation accuracy {metrics['accuracy']:.3f}", started)

        serve.run(DigitModel.bind(checkpoint, hidden, prep["mean"].tolist(),
                                  prep["std"].tolist()),
                  name="digits", route_prefix="/digits", port=args.port)
        stage(f"serve: best checkpoint deployed at http://127.0.0.1:{args.port}/digits", started)
        test_x, test_y = prep["splits"]["test"]
        if args.smoke:
            test_x, test_y = test_x[:100], test_y[:100]
        accuracy = query(f"http://127.0.0.1:{args.port}/digits", test_x, test_y)
        stage(f"query: served model's accuracy on {len(test_y)} held-out digits over HTTP: "
              f"{accuracy:.3f}", started)
        serve.shutdown()
    ember.shutdown()
    return accuracy


if __name__ == "__main__":
    main()
