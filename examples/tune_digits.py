"""Tune the learning rate and hidden size of the digits MLP with ASHA + OptunaSearch.

Each trial is a TorchTrainer (the one of train_digits.py) with one worker, so two trials
run side by side on two CPUs; Optuna's TPE proposes configs and ASHA stops the poor ones
after a few epochs. The best trial's best checkpoint is then scored on test digits.

    python examples/tune_digits.py [--samples 8] [--epochs 12] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from train_digits import checkpoint_accuracy, load_splits, standardized, train_loop

import ember
from ember import train, tune


def main() -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: 2 trials, 2 epochs")
    parser.add_argument("--storage", default=os.path.join(tempfile.gettempdir(), "ember_results"))
    args = parser.parse_args()
    samples, epochs = (2, 2) if args.smoke else (args.samples, args.epochs)

    ember.init()
    rows, scaled = standardized(load_splits())
    trainer = train.TorchTrainer(
        train_loop,
        train_loop_config={"batch_size": 32, "epochs": epochs, "validation": scaled["validation"]},
        scaling_config=train.ScalingConfig(num_workers=1),
        datasets={"train": rows})
    tuner = tune.Tuner(
        trainer,
        param_space={"train_loop_config": {"lr": tune.loguniform(3e-4, 1e-2),
                                           "hidden": tune.choice([32, 64, 128, 256])}},
        tune_config=tune.TuneConfig(
            metric="accuracy", mode="max", num_samples=samples, max_concurrent_trials=2,
            search_alg=tune.OptunaSearch(seed=0),
            scheduler=tune.ASHAScheduler(max_t=epochs, grace_period=min(3, epochs),
                                         reduction_factor=2)),
        run_config=tune.RunConfig(
            name="tune_digits", storage_path=args.storage,
            checkpoint_config=train.CheckpointConfig(num_to_keep=1,
                                                     checkpoint_score_attribute="accuracy")))
    grid = tuner.fit()

    best = grid.get_best_result(scope="all")
    checkpoint, metrics = best.best_checkpoints[0]
    hidden = best.config["train_loop_config"]["hidden"]
    final = checkpoint_accuracy(checkpoint, hidden, *scaled["test"])
    epochs_run = sorted(int(r.metrics["training_iteration"]) for r in grid if r.metrics)
    print(f"{len(grid)} trials, epochs run per trial: {epochs_run}")
    print(f"best: lr={best.config['train_loop_config']['lr']:.2g} hidden={hidden}, validation "
          f"accuracy {metrics['accuracy']:.3f}, test accuracy {final:.3f}")
    ember.shutdown()
    return final


if __name__ == "__main__":
    main()
