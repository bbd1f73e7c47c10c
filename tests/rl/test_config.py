"""Config builders: RLlib names, checks that name the setting, the dict form tune uses."""

from __future__ import annotations

import gymnasium as gym
import pytest
from ember.rl import Algorithm, DQNConfig, PPOConfig


@pytest.mark.parametrize(("call", "setting"), [
    (lambda c: c.training(lr=-0.1), "lr"),
    (lambda c: c.training(lr=0), "lr"),
    (lambda c: c.training(gamma=1.5), "gamma"),
    (lambda c: c.training(gamma=-0.01), "gamma"),
    (lambda c: c.training(lambda_=2.0), "lambda_"),
    (lambda c: c.training(clip_param=0), "clip_param"),
    (lambda c: c.training(minibatch_size=0), "minibatch_size"),
    (lambda c: c.training(num_epochs=1.5), "num_epochs"),
    (lambda c: c.training(train_batch_size="many"), "train_batch_size"),
    (lambda c: c.training(model={"fcnet_hiddens": [64, -1]}), "fcnet_hiddens"),
    (lambda c: c.training(grad_clip=-1.0), "grad_clip"),
    (lambda c: c.env_runners(num_env_runners=-1), "num_env_runners"),
    (lambda c: c.env_runners(num_envs_per_env_runner=0), "num_envs_per_env_runner"),
    (lambda c: c.env_runners(rollout_fragment_length=0), "rollout_fragment_length"),
    (lambda c: c.env_runners(gym_env_vectorize_mode="threads"), "gym_env_vectorize_mode"),
    (lambda c: c.evaluation(evaluation_interval=0), "evaluation_interval"),
    (lambda c: c.debugging(seed=-3), "seed"),
    (lambda c: c.environment(42), "env"),
])
def test_bad_value_raises_value_error_naming_the_setting(call, setting) -> None:
    with pytest.raises(ValueError, match=setting):
        call(PPOConfig())


@pytest.mark.parametrize(("call", "setting"), [
    (lambda c: c.training(epsilon=1.5), "epsilon"),
    (lambda c: c.training(epsilon=[(100, 1.0), (50, 0.1)]), "epsilon"),
    (lambda c: c.training(n_step=0), "n_step"),
    (lambda c: c.training(target_network_update_freq=0), "target_network_update_freq"),
    (lambda c: c.training(replay_buffer_config={"capacity": 0}), "capacity"),
    (lambda c: c.training(tau=0), "tau"),
    (lambda c: c.training(td_error_loss_fn="l1"), "td_error_loss_fn"),
])
def test_bad_dqn_value_raises_value_error_naming_the_setting(call, setting) -> None:
    with pytest.raises(ValueError, match=setting):
        call(DQNConfig())


@pytest.mark.parametrize("call", [
    lambda: PPOConfig().training(learning_rate=0.1),
    lambda: PPOConfig().env_runners(num_runners=2),
    lambda: DQNConfig().training(clip_param=0.2),
    lambda: DQNConfig().training(replay_buffer_config={"capacity": 10, "alpha": 0.6}),
    lambda: PPOConfig.from_dict({"algo": "PPO", "no_such_setting": 1}),
])
def test_unknown_setting_raises_naming_it(call) -> None:
    with pytest.raises(ValueError, match="unknown") as info:
        call()
    assert isinstance(info.value, TypeError)  # as Python's own unknown-keyword error


@pytest.mark.parametrize(("call", "hint"), [
    (lambda: PPOConfig().training(lrr=0.1), "'lrr' (did you mean 'lr'?)"),
    (lambda: PPOConfig().training(model={"fcnet_hidden": [8]}),
     "'fcnet_hidden' (did you mean 'fcnet_hiddens'?)"),
    (lambda: PPOConfig().env_runners(num_workers=2), "(RLlib's old name); use 'num_env_runners'"),
])
def test_a_misspelt_or_old_setting_name_gets_the_right_one(call, hint) -> None:
    with pytest.raises(TypeError) as info:
        call()
    assert hint in str(info.value)


def test_unknown_env_id_raises_at_build_naming_the_env() -> None:
    with pytest.raises(ValueError, match="CartPol-v9"):
        PPOConfig().environment("CartPol-v9").build()


def test_missing_env_raises_at_build() -> None:
    with pytest.raises(ValueError, match="environment"):
        PPOConfig().build()


def test_minibatch_larger_than_batch_raises_at_build() -> None:
    config = PPOConfig().environment("CartPole-v1").training(train_batch_size=100,
                                                             minibatch_size=200)
    with pytest.raises(ValueError, match="minibatch_size"):
        config.build()


def test_attribute_set_directly_is_checked_at_build() -> None:
    config = PPOConfig().environment("CartPole-v1")
    config.gamma = 3.0
    with pytest.raises(ValueError, match="gamma"):
        config.build()


def test_builders_chain_and_change_the_config_in_place() -> None:
    config = PPOConfig()
    assert config.training(lr=0.01, gamma=0.9) is config
    config.env_runners(num_env_runners=2).debugging(seed=3)
    assert (config.lr, config.gamma, config.num_env_runners, config.seed) == (0.01, 0.9, 2, 3)
    config.training(model={"fcnet_hiddens": [32]})
    assert config.model["fcnet_hiddens"] == [32]


def test_copy_is_independent() -> None:
    config = PPOConfig().training(model={"fcnet_hiddens": [8]})
    clone = config.copy()
    clone.training(lr=0.5, model={"fcnet_hiddens": [4]})
    assert config.lr != 0.5 and config.model["fcnet_hiddens"] == [8]


def test_to_dict_round_trips_through_from_dict() -> None:
    config = (DQNConfig().environment("CartPole-v1", env_config={"a": 1})
              .training(n_step=3, epsilon=[(0, 1.0), (500, 0.1)]).debugging(seed=7))
    settings = config.to_dict()
    assert settings["algo"] == "DQN" and settings["n_step"] == 3 and settings["env"] == "CartPole-v1"
    again = DQNConfig.from_dict(settings)
    assert again.to_dict() == settings


def test_from_dict_accepts_sections_and_old_rllib_names() -> None:
    config = PPOConfig.from_dict({
        "env": "CartPole-v1", "num_workers": 1, "lambda": 0.9, "num_sgd_iter": 3,
        "training": {"lr": 0.002}, "debugging": {"seed": 1}})
    assert (config.num_env_runners, config.lambda_, config.num_epochs, config.lr, config.seed) \
        == (1, 0.9, 3, 0.002, 1)


def test_from_dict_of_another_algorithm_raises() -> None:
    with pytest.raises(ValueError, match="DQN"):
        PPOConfig.from_dict(DQNConfig().to_dict())


def test_algorithm_registry_names_map_to_configs() -> None:
    assert isinstance(Algorithm.get_default_config("PPO"), PPOConfig)
    assert isinstance(Algorithm.get_default_config("DQN"), DQNConfig)
    with pytest.raises(ValueError, match="PPO, DQN"):
        Algorithm.get_default_config("A3C")


def test_dict_without_algo_name_raises_saying_how_to_name_it() -> None:
    with pytest.raises(ValueError, match="algo"):
        Algorithm({"env": "CartPole-v1"})


class _Corridor(gym.Env):
    """Walk right 3 cells to finish; built as cls(env_config)."""

    def __init__(self, config):
        self.length = config.get("length", 3)
        self.observation_space = gym.spaces.Discrete(self.length + 1)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self.position, {}

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        done = self.position >= self.length
        return self.position, 1.0 if done else -0.1, done, False, {}


def test_env_class_is_called_with_env_config_and_discrete_obs_work() -> None:
    algo = (PPOConfig().environment(_Corridor, env_config={"length": 2})
            .training(train_batch_size=64, minibatch_size=32, num_epochs=1).build())
    try:
        assert algo.observation_space.n == 3
        assert algo.train()["num_env_steps_sampled"] == 64
        assert algo.compute_single_action(0) in (0, 1)
    finally:
        algo.stop()


def test_env_creator_is_called_with_env_config() -> None:
    seen = []

    def creator(env_config):
        seen.append(dict(env_config))
        return gym.make("CartPole-v1", max_episode_steps=env_config["steps"])

    algo = (DQNConfig().environment(creator, env_config={"steps": 20}).build())
    try:
        result = algo.train()
        assert seen[0] == {"steps": 20}
        assert result["episode_len_mean"] <= 20
    finally:
        algo.stop()


def test_creator_returning_something_else_raises_type_error() -> None:
    with pytest.raises(TypeError, match="not a gymnasium.Env"):
        PPOConfig().environment(lambda cfg: "not an env").build()


def test_unsupported_action_space_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="action space"):
        DQNConfig().environment("Pendulum-v1").build()
