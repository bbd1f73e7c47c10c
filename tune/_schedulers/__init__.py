"""Trial schedulers: one small file each; ``_base`` holds the protocol."""

from ._asha import ASHAScheduler
from ._base import CONTINUE, PAUSE, STOP, TrialScheduler
from ._fifo import FIFOScheduler
from ._hyperband import HyperBandScheduler
from ._median_stopping import MedianStoppingRule
from ._pbt import PopulationBasedTraining

__all__ = [
    "CONTINUE",
    "PAUSE",
    "STOP",
    "ASHAScheduler",
    "FIFOScheduler",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "TrialScheduler",
]
