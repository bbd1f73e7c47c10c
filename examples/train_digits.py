"""Train an MLP on scikit-learn's handwritten digits with 2 data-parallel workers.

The digits ship with scikit-learn (no download). The training rows go to the workers as
an ember.data dataset, each worker streaming its own shard; rank 0 checks accuracy on
validation digits every epoch and saves a checkpoint; the best checkpoint by validation
accuracy is then scored on test digits no step has seen.

    python examples/train_digits.py [--epochs 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import ember
from ember import data, train

HIDDEN = 256


def make_model(hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(hidden, 10))


def accuracy(model: torch.nn.Module, features: np.ndarray, labels: np.ndarray) -> float:
    with torch.no_grad():
        predicted = model(torch.tensor(features)).argmax(dim=1).numpy()  # a copy: config arrays are read-only views
    return float((predicted == labels).mean())


def train_loop(config: dict) -> None:
    """Runs on every worker: DDP model, this worker's shard, rank 0 evaluates and saves."""
    torch.manual_seed(0)
    model = train.prepare_model(make_model(config["hidden"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    shard = train.get_dataset_shard("train")
    val_x, val_y = config["validation"]
    rank = train.get_context().get_world_rank()
    for epoch in range(config["epochs"]):
        model.train()
        for batch in shard.iter_torch_batches(batch_size=config["batch_size"], drop_last=True,
                                              dtypes={"x": torch.float32, "y": torch.int64}):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
            loss.backward()
            optimizer.step()
        model.eval()
        metrics = {"epoch": epoch, "loss": loss.item(), "accuracy": accuracy(model, val_x, val_y)}
        if rank == 0:
            with tempfile.TemporaryDirectory() as folder:
                weights = model.module.state_dict() if hasattr(model, "module") else model.state_dict()
                torch.save(weights, os.path.join(folder, "model.pt"))  # without DDP's wrapper
                train.report(metrics, checkpoint=train.Checkpoint.from_directory(folder))
        else:
            train.report(metrics)


def load_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation / test pixels (0..16) and labels."""
    digits = load_digits()
    features = digits.data.astype(np.float32)
    rest_x, test_x, rest_y, test_y = train_test_split(
        features, digits.target, test_size=0.2, random_state=0, stratify=digits.target)
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=0.15, random_state=0, stratify=rest_y)
    return {"train": (train_x, train_y), "validation": (val_x, val_y), "test": (test_x, test_y)}


def standardized(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[Any, dict]:
    """The training rows as a dataset standardized by ember.data, and every split's
    features standardized the same way (for evaluation)."""
    mean, std = splits["train"][0].mean(axis=0), splits["train"][0].std(axis=0) + 1e-3

    def standardize(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"x": (batch["x"] - mean) / std, "y": batch["y"]}

    rows = data.from_items([{"x": x, "y": int(y)} for x, y in zip(*splits["train"])])
    scaled = {name: ((x - mean) / std, y) for name, (x, y) in splits.items()}
    return rows.map_batches(standardize), scaled


def checkpoint_accuracy(checkpoint: train.Checkpoint, hidden: int, features: np.ndarray,
                        labels: np.ndarray) -> float:
    """Reload a checkpoint's weights, as a server would, and score them."""
    model = make_model(hidden)
    with checkpoint.as_directory() as folder:
        model.load_state_dict(torch.load(os.path.join(folder, "model.pt")))
    return accuracy(model.eval(), features, labels)


def main() -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--storage", default=os.path.join(tempfile.gettempdir(), "ember_results"))
    args = parser.parse_args()

    ember.init()
    rows, scaled = standardized(load_splits())
    trainer = train.TorchTrainer(
        train_loop,
        train_loop_config={"lr": 1e-3, "hidden": HIDDEN, "batch_size": 32, "epochs": args.epochs,
                           "validation": scaled["validation"]},
        scaling_config=train.ScalingConfig(num_workers=args.workers),
        run_config=train.RunConfig(name="digits", storage_path=args.storage,
                                   checkpoint_config=train.CheckpointConfig(
                                       num_to_keep=2, checkpoint_score_attribute="accuracy")),
        datasets={"train": rows})
    result = trainer.fit()

    best, metrics = result.best_checkpoints[0]
    final = checkpoint_accuracy(best, HIDDEN, *scaled["test"])
    print(f"best epoch {metrics['epoch']} ({best.path}): validation accuracy "
          f"{metrics['accuracy']:.3f}, test accuracy {final:.3f}")
    ember.shutdown()
    return final


if __name__ == "__main__":
    main()
