"""RL benchmark: PPO solving CartPole-v1 and raw env-runner sampling throughput.

Usage (from the repo root)::

    python benchmarks/rl.py                       # ember + the single-process baseline, ratios
    python benchmarks/rl.py --compare rllib       # ... and RLlib 2.60 from the Ray venv
    python benchmarks/rl.py --engine baseline     # one engine alone (unprefixed figures)
    python benchmarks/rl.py --ray-venv /path/to/.venv-ray --compare rllib

Figures (one ``name value unit`` line each, see ``_compare.py``; nothing here is a test):

==========================  ==============================================================
``solve_s``                 wall seconds of training until the mean return over the last
                            20 episodes reaches 450 (after the algorithm is built)
``solve_env_steps``         env steps sampled by then
``build_s``                 building the algorithm (env runners, learner); RLlib: incl. ray.init
``sample_steps_per_s_<n>``  env steps/s of sampling alone with n = 0, 1, 2 env runners
                            (8 envs per runner, 2048 steps per runner per call)
==========================  ==============================================================

Every engine runs PPO with the same hyperparameters and fixed seed 0: 8 CartPole envs,
2048 steps per iteration, 8 epochs of minibatches of 256, lr 1e-3, gamma 0.99,
lambda 0.95, clip 0.2, value clip 10, value coefficient 0.5, no entropy bonus, gradient
norm 0.5, a 64x64 tanh MLP for policy and value, torch on 1 thread, sampling in the
process that learns (``num_env_runners=0``), which is the fastest setting on 2 cores for
an env as cheap as CartPole. ``baseline`` is a single-file, single-process torch PPO
(cleanrl style) written below, sharing no code with ember.

Targets on the project's 2-core machine: ``solve_s`` below RLlib's and within 1.5x of the
baseline's; sampling throughput at least 3x RLlib's. The machine is shared and noisy,
so compare the ratios printed within one run.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from _compare import (
    BENCH_DIR,
    RAY_ENV,
    Figure,
    emit,
    ensure_ray_venv,
    format_table,
    run_child,
)

SEED = 0
TARGET = 450.0
WINDOW = 20
NUM_ENVS = 8
STEPS_PER_ENV = 256  # 2048 per iteration
HYPER = {"lr": 1e-3, "gamma": 0.99, "lambda_": 0.95, "clip_param": 0.2, "vf_clip_param": 10.0,
         "vf_loss_coeff": 0.5, "entropy_coeff": 0.0, "grad_clip": 0.5, "num_epochs": 8,
         "minibatch_size": 256, "train_batch_size": NUM_ENVS * STEPS_PER_ENV}
MAX_SECONDS = 600.0
SAMPLE_CALLS = 10


# ---------------------------------------------------------------- ember
def run_ember(skip_sampling: bool) -> None:
    from ember.rl import PPOConfig

    import ember

    def config(runners: int) -> PPOConfig:
        return (PPOConfig().environment("CartPole-v1")
                .env_runners(num_env_runners=runners, num_envs_per_env_runner=NUM_ENVS)
                .training(model={"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh"}, **HYPER)
                .reporting(metrics_num_episodes_for_smoothing=WINDOW)
                .debugging(seed=SEED))

    started = time.perf_counter()
    algo = config(0).build()
    emit("build_s", time.perf_counter() - started, "s")
    started = time.perf_counter()
    while True:
        result = algo.train()
        elapsed = time.perf_counter() - started
        if result["episode_return_mean"] >= TARGET or elapsed > MAX_SECONDS:
            break
    emit("solve_s", elapsed, "s")
    emit("solve_env_steps", result["num_env_steps_sampled"], "count")
    algo.stop()
    if skip_sampling:
        return
    ember.init(num_cpus=2)
    for runners in (0, 1, 2):
        algo = config(runners).build()
        weights = algo.learner.module.state_dict()
        group = algo.env_runner_group
        group.sample(weights, STEPS_PER_ENV)  # warm-up: actors started, envs reset
        started = time.perf_counter()
        steps = sum(f["rewards"].size for _ in range(SAMPLE_CALLS)
                    for f in group.sample(weights, STEPS_PER_ENV))
        emit(f"sample_steps_per_s_{runners}", steps / (time.perf_counter() - started), "per_s")
        algo.stop()
    ember.shutdown()


# ---------------------------------------------------------------- baseline
def run_baseline() -> None:
    """Single-file PPO in one process, cleanrl style; shares nothing with ember."""
    import gymnasium as gym
    import numpy as np
    import torch
    from torch import nn
    from torch.distributions import Categorical

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    h = HYPER

    def layer(n_in: int, n_out: int, std: float) -> nn.Linear:
        linear = nn.Linear(n_in, n_out)
        nn.init.orthogonal_(linear.weight, std)
        nn.init.zeros_(linear.bias)
        return linear

    def net(n_out: int, std: float) -> nn.Sequential:
        return nn.Sequential(layer(4, 64, 2 ** 0.5), nn.Tanh(), layer(64, 64, 2 ** 0.5), nn.Tanh(),
                             layer(64, n_out, std))

    started = time.perf_counter()
    actor, critic = net(2, 0.01), net(1, 1.0)
    params = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(params, lr=h["lr"], eps=1e-5)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * NUM_ENVS,
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=[SEED + j for j in range(NUM_ENVS)])
    emit("build_s", time.perf_counter() - started, "s")

    T, N = STEPS_PER_ENV, NUM_ENVS
    finished: collections.deque[float] = collections.deque(maxlen=WINDOW)
    running = np.zeros(N)
    total_steps = 0
    started = time.perf_counter()
    while True:
        b_obs = np.zeros((T, N, 4), np.float32)
        b_next = np.zeros((T, N, 4), np.float32)
        b_act = np.zeros((T, N), np.int64)
        b_logp = np.zeros((T, N), np.float32)
        b_rew = np.zeros((T, N), np.float32)
        b_term = np.zeros((T, N), bool)
        b_trunc = np.zeros((T, N), bool)
        for t in range(T):
            with torch.no_grad():
                dist = Categorical(logits=actor(torch.as_tensor(obs)))
                action = dist.sample()
                b_logp[t] = dist.log_prob(action).numpy()
            b_obs[t], b_act[t] = obs, action.numpy()
            obs, reward, term, trunc, info = envs.step(action.numpy())
            reached = obs.copy()
            if "_final_obs" in info:
                for i in np.flatnonzero(info["_final_obs"]):
                    reached[i] = info["final_obs"][i]
            b_next[t], b_rew[t], b_term[t], b_trunc[t] = reached, reward, term, trunc
            running += reward
            for i in np.flatnonzero(term | trunc):
                finished.append(running[i])
                running[i] = 0.0
        total_steps += T * N
        with torch.no_grad():
            values = critic(torch.as_tensor(b_obs)).squeeze(-1).numpy()
            next_values = critic(torch.as_tensor(b_next)).squeeze(-1).numpy()
        advantages = np.zeros((T, N), np.float32)
        last = np.zeros(N, np.float32)
        for t in reversed(range(T)):
            delta = b_rew[t] + h["gamma"] * next_values[t] * (1 - b_term[t]) - values[t]
            last = delta + h["gamma"] * h["lambda_"] * (1 - (b_term[t] | b_trunc[t])) * last
            advantages[t] = last
        returns = advantages + values
        x = torch.as_tensor(b_obs.reshape(-1, 4))
        acts, old_logp = torch.as_tensor(b_act.reshape(-1)), torch.as_tensor(b_logp.reshape(-1))
        adv_all, ret_all = torch.as_tensor(advantages.reshape(-1)), torch.as_tensor(returns.reshape(-1))
        old_v = torch.as_tensor(values.reshape(-1))
        for _ in range(h["num_epochs"]):
            order = rng.permutation(T * N)
            for start in range(0, T * N, h["minibatch_size"]):
                mb = torch.as_tensor(order[start:start + h["minibatch_size"]])
                dist = Categorical(logits=actor(x[mb]))
                ratio = (dist.log_prob(acts[mb]) - old_logp[mb]).exp()
                adv = adv_all[mb]
                adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
                pg_loss = -torch.min(ratio * adv, ratio.clamp(1 - h["clip_param"], 1 + h["clip_param"]) * adv).mean()
                v = critic(x[mb]).squeeze(-1)
                v_clipped = old_v[mb] + (v - old_v[mb]).clamp(-h["vf_clip_param"], h["vf_clip_param"])
                v_loss = 0.5 * torch.max((v - ret_all[mb]) ** 2, (v_clipped - ret_all[mb]) ** 2).mean()
                loss = pg_loss + h["vf_loss_coeff"] * v_loss - h["entropy_coeff"] * dist.entropy().mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, h["grad_clip"])
                optimizer.step()
        elapsed = time.perf_counter() - started
        if (len(finished) and np.mean(finished) >= TARGET) or elapsed > MAX_SECONDS:
            break
    emit("solve_s", elapsed, "s")
    emit("solve_env_steps", total_steps, "count")
    envs.close()


# ---------------------------------------------------------------- rllib
def run_rllib(skip_sampling: bool) -> None:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    def config(runners: int) -> PPOConfig:
        hyper = {k: v for k, v in HYPER.items() if k != "lambda_"}
        # RLlib requires the batch to be exactly runners x envs x fragment length.
        hyper["train_batch_size"] = max(1, runners) * NUM_ENVS * STEPS_PER_ENV
        return (PPOConfig().environment("CartPole-v1")
                .env_runners(num_env_runners=runners, num_envs_per_env_runner=NUM_ENVS,
                             rollout_fragment_length=STEPS_PER_ENV)
                .training(lambda_=HYPER["lambda_"], use_kl_loss=False, **hyper)
                .rl_module(rl_module_spec=RLModuleSpec(model_config={
                    "fcnet_hiddens": [64, 64], "fcnet_activation": "tanh",
                    "vf_share_layers": False}))
                .reporting(metrics_num_episodes_for_smoothing=WINDOW)
                .debugging(seed=SEED))

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    algo = config(0).build()
    emit("build_s", time.perf_counter() - started, "s")
    started = time.perf_counter()
    while True:
        result = algo.train()
        runners = result.get("env_runners", {})
        mean = runners.get("episode_return_mean", float("nan"))
        elapsed = time.perf_counter() - started
        if mean >= TARGET or elapsed > MAX_SECONDS:
            break
    steps = result.get("num_env_steps_sampled_lifetime",
                       runners.get("num_env_steps_sampled_lifetime", float("nan")))
    emit("solve_s", elapsed, "s")
    emit("solve_env_steps", steps, "count")
    algo.stop()
    if not skip_sampling:
        for n in (0, 1, 2):
            algo = config(n).build()
            per_runner = NUM_ENVS * STEPS_PER_ENV

            def sample(runner, count=per_runner):  # type: ignore[no-untyped-def]
                return sum(len(episode) for episode in runner.sample(num_timesteps=count))

            group = algo.env_runner_group
            group.foreach_env_runner(sample, local_env_runner=n == 0)  # warm-up
            started = time.perf_counter()
            total = 0
            for _ in range(SAMPLE_CALLS):
                total += sum(group.foreach_env_runner(sample, local_env_runner=n == 0))
            emit(f"sample_steps_per_s_{n}", total / (time.perf_counter() - started), "per_s")
            algo.stop()
    ray.shutdown()


# ---------------------------------------------------------------- driver
def ratios(ember: dict[str, Figure], other: dict[str, Figure], name: str) -> None:
    if "solve_s" in ember and "solve_s" in other:
        emit(f"solve_time_vs_{name}", other["solve_s"].value / ember["solve_s"].value, "x")
    for n in (0, 1, 2):
        key = f"sample_steps_per_s_{n}"
        if key in ember and key in other:
            emit(f"sampling_{n}_vs_{name}", ember[key].value / other[key].value, "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("ember", "baseline", "rllib"))
    parser.add_argument("--compare", choices=("rllib",))
    parser.add_argument("--ray-venv", default=str(BENCH_DIR / ".venv-ray"))
    parser.add_argument("--skip-sampling", action="store_true")
    args = parser.parse_args()
    if args.engine == "ember":
        return run_ember(args.skip_sampling)
    if args.engine == "baseline":
        return run_baseline()
    if args.engine == "rllib":
        return run_rllib(args.skip_sampling)

    script = Path(__file__).resolve()
    extra = ["--skip-sampling"] if args.skip_sampling else []
    ember = run_child(sys.executable, script, ["--engine", "ember", *extra], label="ember")
    baseline = run_child(sys.executable, script, ["--engine", "baseline"], label="baseline")
    print()
    print("ember vs the single-process baseline (ratio > 1: ember is faster)")
    ratios(ember, baseline, "baseline")
    if args.compare == "rllib":
        python = ensure_ray_venv(["ray[rllib]==2.60.0", "torch==2.13.0", "gymnasium"],
                                 venv=Path(args.ray_venv))
        rllib = run_child(python, script, ["--engine", "rllib", *extra],
                          env={**RAY_ENV, "PYTHONWARNINGS": "ignore"}, label="rllib")
        print()
        print(format_table(ember, rllib).replace("ray", "rllib"))
        ratios(ember, rllib, "rllib")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
