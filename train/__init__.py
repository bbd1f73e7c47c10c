"""ember.train: data-parallel PyTorch training on worker actors.

Example::

    import ember.train as train

    def loop(config):
        model = train.prepare_model(make_model())
        for epoch in range(config["epochs"]):
            for batch in train.get_dataset_shard("train").iter_torch_batches(batch_size=64):
                ...
            train.report({"epoch": epoch, "loss": loss})

    result = train.TorchTrainer(loop, train_loop_config={"epochs": 3},
                                scaling_config=train.ScalingConfig(num_workers=2),
                                datasets={"train": ds}).fit()

How a tuner runs a TorchTrainer as a trial is documented in ``ember.train.trial``.
"""

from ._checkpoint import Checkpoint
from ._config import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ._prepare import get_device, prepare_data_loader, prepare_model
from ._result import Result, TrainingFailedError
from ._session import (
    TrainContext,
    get_checkpoint,
    get_context,
    get_dataset_shard,
    report,
)
from ._trainer import TorchTrainer

__all__ = [
    "Checkpoint",
    "CheckpointConfig",
    "FailureConfig",
    "Result",
    "RunConfig",
    "ScalingConfig",
    "TorchTrainer",
    "TrainContext",
    "TrainingFailedError",
    "get_checkpoint",
    "get_context",
    "get_dataset_shard",
    "get_device",
    "prepare_data_loader",
    "prepare_model",
    "report",
]
