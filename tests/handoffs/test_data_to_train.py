"""data -> train: dataset blocks reach the train workers by ref through the object store;
the driver only ever holds refs, so its memory stays flat while 1 GiB flows."""

from __future__ import annotations

import threading
import time

import numpy as np
import psutil
import pytest

import ember
from ember import data, train

torch = pytest.importorskip("torch")
MIB = 2**20
ROW_BYTES = 16 * MIB


@pytest.fixture(scope="module", autouse=True)
def session():  # type: ignore[no-untyped-def]
    ember.shutdown()
    ember.init(num_cpus=2, object_store_memory=3 * 1024 * MIB)
    yield
    ember.shutdown()


def big_rows(batch):
    return {"x": np.ones((len(batch["id"]), ROW_BYTES), dtype=np.uint8)}


def count_bytes(config):
    import torch.distributed as dist

    seen = 0
    for batch in train.get_dataset_shard("train").iter_batches(batch_size=None,
                                                               batch_format="pyarrow"):
        seen += batch.column("x").nbytes
    total = torch.tensor([float(seen)])
    dist.all_reduce(total)
    train.report({"bytes": total.item()})


class PeakRss:
    def __init__(self):
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


@pytest.mark.slow
def test_one_gib_of_blocks_reaches_workers_without_passing_through_the_driver(tmp_path):
    ds = data.range(64, override_num_blocks=8).map_batches(big_rows)  # 8 blocks of 128 MiB
    trainer = train.TorchTrainer(count_bytes, datasets={"train": ds},
                                 scaling_config=train.ScalingConfig(num_workers=2),
                                 run_config=train.RunConfig(storage_path=str(tmp_path), verbose=0))
    before = psutil.Process().memory_info().rss
    with PeakRss() as rss:
        result = trainer.fit()
    assert result.metrics["bytes"] == 64 * ROW_BYTES  # every byte reached a worker
    assert rss.peak - before < 100 * MIB, f"driver grew by {(rss.peak - before) / MIB:.0f} MiB"
