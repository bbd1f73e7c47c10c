"""Every Python block in the README runs as written, on the embedded engine (the
cluster blocks on a real scheduler + worker), with the input files it names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests_support.readme import sections

pytestmark = pytest.mark.slow

BLOCKS = [(heading, index, code) for heading, blocks in sections().items()
          for index, code in enumerate(blocks)]


def _make_inputs(folder: str) -> None:
    """The files README blocks read: sales/ and digits/ parquet folders."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_digits

    os.makedirs(os.path.join(folder, "sales"))
    rng = np.random.default_rng(0)
    for part in range(2):
        pq.write_table(pa.table({
            "store": rng.choice(["east", "west", "north"], 500),
            "units": rng.integers(0, 10, 500),
            "price": rng.uniform(1, 20, 500)}), os.path.join(folder, "sales", f"{part}.parquet"))
    digits = load_digits()
    os.makedirs(os.path.join(folder, "digits"))
    pq.write_table(pa.table({"pixels": list(digits.data.astype("float32") / 16.0),
                             "label": digits.target}),
                   os.path.join(folder, "digits", "0.parquet"))


@pytest.mark.parametrize("heading,index,code", BLOCKS,
                         ids=[f"{h.split()[0].strip('`(')}-{i}" for h, i, _ in BLOCKS])
def test_readme_block_runs_as_written(heading, index, code, tmp_path):
    _make_inputs(str(tmp_path))
    script = tmp_path / "block.py"
    script.write_text(code)
    env = {**os.environ}
    if heading.startswith("Running on a cluster") and "DASK_SCHEDULER" in code:
        from tests_support.dask_cluster import dask_cluster

        with dask_cluster(workers=2) as (address, _):
            env["DASK_SCHEDULER"] = address
            result = subprocess.run([sys.executable, str(script)], capture_output=True,
                                    text=True, timeout=240, check=False, cwd=str(tmp_path), env=env,
                                    stdin=subprocess.DEVNULL)
    else:
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                timeout=240, check=False, cwd=str(tmp_path), env=env,
                                stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"README block {index} of {heading!r} failed:\n{result.stderr}"
