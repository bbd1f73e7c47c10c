"""train/tune -> serve and rl -> serve: a checkpoint object deploys as it is
(``Model.bind(checkpoint)``); the replica reads the files, the driver passes only the
reference."""

from __future__ import annotations

import os
import tempfile

import httpx
import pytest
from tests_support.ports import free_port

import ember
from ember import serve, train, tune

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def session():  # type: ignore[no-untyped-def]
    ember.shutdown()
    ember.init(num_cpus=2)
    yield
    serve.shutdown()
    ember.shutdown()



PORT = free_port()  # one HTTP proxy serves every application of the session


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Scale:
    """Multiplies by the weight stored in the checkpoint it was bound to."""

    def __init__(self, checkpoint: train.Checkpoint):
        with checkpoint.as_directory() as folder:
            self.weight = torch.load(os.path.join(folder, "w.pt"))

    async def __call__(self, request):
        return {"y": float(self.weight * (await request.json())["x"])}


def fit_weight(config):
    with tempfile.TemporaryDirectory() as folder:
        torch.save(torch.tensor(config["w"]), os.path.join(folder, "w.pt"))
        tune.report({"score": -abs(config["w"] - 3.0)},
                    checkpoint=tune.Checkpoint.from_directory(folder))


def test_the_best_trials_checkpoint_deploys_directly(tmp_path):
    grid = tune.Tuner(fit_weight, param_space={"w": tune.grid_search([1.0, 3.0, 5.0])},
                      tune_config=tune.TuneConfig(metric="score", mode="max"),
                      run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()
    best = grid.get_best_result()
    port = PORT
    serve.run(Scale.bind(best.checkpoint), name="scale", route_prefix="/scale", port=port)
    answer = httpx.post(f"http://127.0.0.1:{port}/scale", json={"x": 2.0}).json()
    assert answer == {"y": 6.0}  # the weight 3.0 of the best trial, read by the replica
    serve.delete("scale")


def test_an_rl_policy_checkpoint_deploys_the_same_way(tmp_path):
    rl = pytest.importorskip("ember.rl")

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Policy:
        def __init__(self, checkpoint_path: str):
            self.policy = rl.Algorithm.policy_from_checkpoint(checkpoint_path)

        async def __call__(self, request):
            return {"action": self.policy.compute_single_action((await request.json())["obs"])}

    config = (rl.PPOConfig().environment("CartPole-v1")
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
              .training(train_batch_size=200, minibatch_size=50, num_epochs=1).debugging(seed=0))
    with config.build() as algo:
        algo.train()
        path = algo.save(str(tmp_path / "ppo"))
        expected = algo.compute_single_action([0.1, 0.0, -0.1, 0.0])
    port = PORT
    serve.run(Policy.bind(str(path)), name="policy", route_prefix="/policy", port=port)
    answer = httpx.post(f"http://127.0.0.1:{port}/policy", json={"obs": [0.1, 0.0, -0.1, 0.0]})
    assert answer.json() == {"action": expected}
    serve.delete("policy")
