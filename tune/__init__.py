"""ember.tune: hyperparameter search over trials that run as actors.

Example::

    from ember import tune

    def objective(config):
        for step in range(20):
            tune.report({"loss": train_one_epoch(config["lr"])})

    grid = tune.Tuner(
        objective,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.choice([1, 2, 3])},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=20,
                                    search_alg=tune.OptunaSearch(),
                                    scheduler=tune.ASHAScheduler(max_t=20)),
    ).fit()
    grid.get_best_result().config

Trainables: a function of ``config`` calling ``tune.report``, a ``TorchTrainer``, or a
class with ``train()``/``save()``/``restore()`` such as an rl Algorithm.
"""

from ember.train import Checkpoint, RunConfig, get_checkpoint, get_context, report

from ._optuna_search import OptunaSearch
from ._registry import register_trainable
from ._result_grid import ResultGrid
from ._schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
)
from ._search_space import (
    choice,
    grid_search,
    loguniform,
    quniform,
    randint,
    sample_from,
    uniform,
)
from ._stopper import Stopper
from ._trainable import with_resources
from ._tune_config import TuneConfig
from ._tuner import Tuner

__all__ = [
    "ASHAScheduler",
    "Checkpoint",
    "FIFOScheduler",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "OptunaSearch",
    "PopulationBasedTraining",
    "ResultGrid",
    "RunConfig",
    "Stopper",
    "TuneConfig",
    "Tuner",
    "choice",
    "get_checkpoint",
    "get_context",
    "grid_search",
    "loguniform",
    "quniform",
    "randint",
    "register_trainable",
    "report",
    "sample_from",
    "uniform",
    "with_resources",
]
