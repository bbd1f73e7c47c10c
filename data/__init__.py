"""ember.data: streaming datasets on Arrow blocks in the object store.

Example::

    from ember import data
    ds = data.read_parquet("events/").map_batches(lambda b: {"x2": b["x"] * 2})
    for batch in ds.iter_batches(batch_size=1024):
        ...
"""

from ._actor_pool import ActorPoolStrategy
from ._context import DataContext
from ._dataset import Dataset
from ._read_api import (
    from_arrow,
    from_items,
    from_numpy,
    from_pandas,
    range,
    read_csv,
    read_json,
    read_numpy,
    read_parquet,
)

__all__ = [
    "ActorPoolStrategy",
    "DataContext",
    "Dataset",
    "from_arrow",
    "from_items",
    "from_numpy",
    "from_pandas",
    "range",
    "read_csv",
    "read_json",
    "read_numpy",
    "read_parquet",
]
