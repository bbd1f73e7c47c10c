"""ember.rl: PPO and DQN on gymnasium envs, with env runners as Ember actors.

Example::

    from ember.rl import PPOConfig

    config = (PPOConfig()
              .environment("CartPole-v1")                  # id, Env class or creator
              .env_runners(num_env_runners=0, num_envs_per_env_runner=8)
              .training(lr=3e-4, train_batch_size=2048, minibatch_size=256, num_epochs=8)
              .debugging(seed=0))
    algo = config.build()
    while algo.train()["episode_return_mean"] < 450:
        pass
    path = algo.save("/tmp/cartpole-ppo")
    algo.stop()

Data flow of one ``train()`` call::

    learner weights --ember.put--> runners (actors, or the driver with 0 runners)
        each steps a gymnasium vector env -> fragments [T, N] + finished episodes
    learner (torch, in the driver): PPO epochs / DQN replay updates -> metrics dict

The tune Trainable protocol (what a class trainable needs; tune drives it):

- construct: ``Algorithm(settings)`` with ``settings`` a config object or a dict in
  ``config.to_dict()``'s form (its ``"algo"`` key, or ``Algorithm(settings, algo="PPO")``,
  names the algorithm; search spaces resolved by tune first).
  ``Algorithm.get_default_config("PPO")`` maps a registered name to a fresh config.
- step: ``train()`` returns a flat dict of metrics (``training_iteration``,
  ``episode_return_mean``, ``num_env_steps_sampled``, ``time_this_iter_s``, ...).
- checkpoints: ``save(dir)`` writes into ``dir`` and returns its path; ``restore(dir)``
  loads it into a running Algorithm (PBT exploits this); ``Algorithm.from_checkpoint``.
- cleanup: ``stop()`` closes envs and ends the runner actors.
"""

from ._algorithm import Algorithm
from ._dqn_config import DQNConfig
from ._ppo_config import PPOConfig
from ._tune import register_with_tune

register_with_tune()  # Tuner("PPO") / Tuner("DQN")
del register_with_tune

__all__ = ["Algorithm", "DQNConfig", "PPOConfig"]
