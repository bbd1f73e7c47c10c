"""PPO solves CartPole-v1, saves a checkpoint, and the policy is served over HTTP.

    python examples/rl_cartpole.py            # trains until the mean return reaches 450
    python examples/rl_cartpole.py --smoke    # a few iterations, for the test suite

The checkpoint deploys the way a train/tune checkpoint does (``Policy.bind(checkpoint)``):
``load_policy(checkpoint_path)`` builds the greedy policy from the checkpoint alone (no
env, no runners), and the ``CartPolePolicy`` replica answers ``POST /cartpole
{"observation": [4 floats]}`` with ``{"action": 0 or 1}``. The example then plays
episodes whose every action comes from the server.
"""

from __future__ import annotations

import argparse
import tempfile

import gymnasium as gym
import httpx
from ember.rl import Algorithm, PPOConfig

from ember import serve


def train(target: float, max_iterations: int, checkpoint_dir: str) -> str:
    config = (PPOConfig()
              .environment("CartPole-v1")
              .env_runners(num_env_runners=0, num_envs_per_env_runner=8)
              .training(lr=1e-3, train_batch_size=2048, minibatch_size=256, num_epochs=8)
              .reporting(metrics_num_episodes_for_smoothing=20)
              .debugging(seed=0))
    algo = config.build()
    try:
        for _ in range(max_iterations):
            result = algo.train()
            print(f"iteration {result['training_iteration']:3d}  "
                  f"env steps {result['num_env_steps_sampled']:7d}  "
                  f"mean return (last 20 episodes) {result['episode_return_mean']:6.1f}")
            if result["episode_return_mean"] >= target:
                break
        return algo.save(checkpoint_dir)
    finally:
        algo.stop()


def load_policy(checkpoint_path: str):  # type: ignore[no-untyped-def]
    """The trained policy, ready to act: ``policy.compute_single_action(obs) -> int``."""
    return Algorithm.policy_from_checkpoint(checkpoint_path)


@serve.deployment(ray_actor_options={"num_cpus": 0})
class CartPolePolicy:
    """The trained policy behind HTTP, loaded from the checkpoint once per replica."""

    def __init__(self, checkpoint_path: str):
        self.policy = load_policy(checkpoint_path)

    async def __call__(self, request) -> dict[str, int]:  # type: ignore[no-untyped-def]
        return {"action": int(self.policy.compute_single_action((await request.json())["observation"]))}


def play_over_http(url: str, episodes: int) -> float:
    """Mean return of episodes whose every action is asked of the server."""
    env = gym.make("CartPole-v1")
    total = 0.0
    try:
        with httpx.Client(timeout=30) as client:
            for episode in range(episodes):
                obs, _ = env.reset(seed=2000 + episode)
                done = False
                while not done:
                    action = client.post(url, json={"observation": obs.tolist()}).json()["action"]
                    obs, reward, terminated, truncated, _ = env.step(action)
                    total += float(reward)
                    done = terminated or truncated
    finally:
        env.close()
    return total / episodes


def play(checkpoint_path: str, episodes: int) -> float:
    """Mean return of greedy episodes, acting through a restored Algorithm."""
    algo = Algorithm.from_checkpoint(checkpoint_path)
    env = gym.make("CartPole-v1")
    total = 0.0
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=1000 + episode)
            done = False
            while not done:
                action = algo.compute_single_action(obs)      # greedy, a plain int
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
    finally:
        env.close()
        algo.stop()
    return total / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few iterations only")
    parser.add_argument("--port", type=int, default=8000, help="where to serve the policy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = train(target=450.0, max_iterations=3 if args.smoke else 100,
                     checkpoint_dir=f"{tmp}/cartpole-ppo")
        print(f"checkpoint: {path}")
        print(f"greedy mean return of the restored algorithm: {play(path, 2 if args.smoke else 5):.1f}")
        serve.run(CartPolePolicy.bind(str(path)), name="cartpole", route_prefix="/cartpole",
                  port=args.port)
        url = f"http://127.0.0.1:{args.port}/cartpole"
        returns = play_over_http(url, 1 if args.smoke else 3)
        print(f"served policy: mean return {returns:.1f} over HTTP at {url}")
        serve.shutdown()


if __name__ == "__main__":
    main()
