"""The README's tours in a real notebook kernel (nbclient + ipykernel), as users run them.

An IPython kernel runs an asyncio loop in its main thread: blocking calls (get, wait,
Dataset consumers, fit, serve.run) must work there, and what tasks print must land in
the cell's output.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from tests_support.readme import blocks

pytestmark = pytest.mark.slow


def _run(cells: list[str], tmp_path) -> nbformat.NotebookNode:  # type: ignore[no-untyped-def]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return notebook


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def test_the_core_tour_runs_in_a_notebook_cell(tmp_path):
    [tour] = blocks("Core API tour")
    setup = "import ember\nember.init(num_cpus=2)"
    printing = (
        "@ember.remote\ndef shout(word):\n    print(word.upper())\n    return word\n"
        "import time\nvalue = ember.get(shout.remote('from a task'))\n"
        "time.sleep(1)  # the task's line arrives on the forwarder thread\nvalue")
    notebook = _run([setup, printing, tour], tmp_path)
    assert "FROM A TASK" in _text(notebook.cells[1])
    assert "'from a task'" in _text(notebook.cells[1])
    assert "invalid literal for int()" in _text(notebook.cells[2])  # the tour's except branch
    assert "'CPU': 2.0" in _text(notebook.cells[2])


def test_the_data_tour_runs_in_a_notebook_cell(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "sales").mkdir()
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({"store": rng.choice(["east", "west"], 200),
                             "units": rng.integers(0, 10, 200),
                             "price": rng.uniform(1, 20, 200)}), tmp_path / "sales" / "0.parquet")
    [tour] = blocks("Datasets")
    check = ("print(sorted(row['store'] for row in per_store.take_all()))\n"
             "print(ds.count() > 0)")
    notebook = _run(["import ember\nember.init(num_cpus=2)", tour, check], tmp_path)
    assert "['east', 'west']" in _text(notebook.cells[2])
    assert "True" in _text(notebook.cells[2])
    assert (tmp_path / "enriched").is_dir()



def test_tune_train_and_rl_run_from_notebook_cells(tmp_path):
    setup = "import ember\nember.init(num_cpus=2)"
    tune_cell = (
        "from ember import tune\n"
        "def objective(config):\n"
        "    for step in range(3):\n"
        "        tune.report({'score': config['x'] * step})\n"
        "grid = tune.Tuner(objective, param_space={'x': tune.grid_search([1, 2])},\n"
        f"                  run_config=tune.RunConfig(storage_path={str(tmp_path / 'runs')!r}),\n"
        "                  tune_config=tune.TuneConfig(metric='score', mode='max')).fit()\n"
        "print('best', grid.get_best_result().config['x'], 'errors', len(grid.errors))")
    train_cell = (
        "from ember import train\n"
        "def loop(config):\n"
        "    import torch, torch.distributed as dist\n"
        "    total = torch.ones(1)\n"
        "    dist.all_reduce(total)\n"
        "    train.report({'world': float(total)})\n"
        "result = train.TorchTrainer(loop, scaling_config=train.ScalingConfig(num_workers=2),\n"
        f"    run_config=train.RunConfig(storage_path={str(tmp_path / 'train')!r})).fit()\n"
        "print('world', result.metrics['world'])")
    rl_cell = (
        "from ember.rl import PPOConfig\n"
        "algo = (PPOConfig().environment('CartPole-v1')\n"
        "        .training(train_batch_size=256, minibatch_size=64, num_epochs=1).build())\n"
        "print('iteration', algo.train()['training_iteration'])\n"
        "algo.stop()")
    notebook = _run([setup, tune_cell, train_cell, rl_cell], tmp_path)
    assert "best 2 errors 0" in _text(notebook.cells[1])
    assert "world 2.0" in _text(notebook.cells[2])
    assert "iteration 1" in _text(notebook.cells[3])


def test_the_serve_tour_runs_in_a_notebook_cell(tmp_path):
    [tour] = blocks("Serving")
    notebook = _run(["import ember\nember.init(num_cpus=2)", tour], tmp_path)
    text = _text(notebook.cells[1])
    assert "{'label': 1}" in text and "RUNNING" in text
