"""A dataset pipeline: read parquet, transform, aggregate, write.

Run it with the project's environment: `.venv/bin/python examples/data_pipeline.py`.
It writes a small parquet dataset to a temporary folder first, so it needs no input.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import ember
from ember import data

ember.init(num_cpus=2)
data.DataContext.get_current().enable_progress_bars = False
workdir = Path(tempfile.mkdtemp(prefix="ember-pipeline-"))

# Some input: 3 parquet files of sales, 100,000 rows in all.
rng = np.random.default_rng(0)
for part in range(3):
    rows = 100_000 // 3
    pq.write_table(pa.table({
        "store": rng.choice(["north", "south", "east", "west"], rows),
        "units": rng.integers(1, 20, rows),
        "price": rng.uniform(1.0, 50.0, rows).round(2),
    }), workdir / f"sales-{part}.parquet")

# Read only the columns needed; nothing runs yet.
sales = data.read_parquet(str(workdir), columns=["store", "units", "price"])


# Transform whole batches at a time (a dict of numpy arrays in, a dict out).
def add_revenue(batch):
    return {**batch, "revenue": batch["units"] * batch["price"]}


with_revenue = sales.map_batches(add_revenue).filter(lambda row: row["units"] >= 2)

# Aggregate per store: a distributed shuffle of partial aggregates, sorted by key.
per_store = with_revenue.groupby("store").aggregate(("sum", "revenue"), ("mean", "units"),
                                                    ("count", None))
for row in per_store.take_all():
    print(f"{row['store']:>5}: {row['count()']:6d} sales, revenue {row['sum(revenue)']:12.2f}, "
          f"mean units {row['mean(units)']:.2f}")

# Write the enriched rows back out: one parquet file per block.
with_revenue.write_parquet(str(workdir / "enriched"))
print("wrote", len(list((workdir / "enriched").iterdir())), "file(s);",
      data.read_parquet(str(workdir / "enriched")).count(), "rows")
ember.shutdown()
shutil.rmtree(workdir)
