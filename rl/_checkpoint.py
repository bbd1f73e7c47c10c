"""Checkpoint directories and the lightweight policy a server loads from one.

    <dir>/rl_checkpoint.json    {"algo": "PPO", "format": 1, "training_iteration": 12}
    <dir>/algorithm_state.pkl   config, learner state (weights, optimizer), counters
    <dir>/policy_state.pkl      weights + spaces only: what ``Policy`` needs to act

``Policy.from_checkpoint(dir)`` reads only the last file and builds the network, with
no env and no runners, so a serve deployment can answer requests from it.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

FORMAT = 1
META = "rl_checkpoint.json"
STATE = "algorithm_state.pkl"
POLICY = "policy_state.pkl"


class CheckpointPath(str):
    """What ``Algorithm.save`` returns: the checkpoint directory as a ``str``, with
    ``.path`` (and ``.checkpoint``, RLlib's ``save().checkpoint.path`` spelling)."""

    @property
    def path(self) -> str:
        return str(self)

    @property
    def checkpoint(self) -> CheckpointPath:
        return self


def write(path: str | os.PathLike[str], meta: dict[str, Any], state: dict[str, Any],
          policy: dict[str, Any]) -> CheckpointPath:
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in ((STATE, state), (POLICY, policy)):
        tmp = directory / (name + ".tmp")
        tmp.write_bytes(cloudpickle.dumps(value))
        os.replace(tmp, directory / name)  # a crash never leaves a half-written file
    (directory / META).write_text(json.dumps({**meta, "format": FORMAT}))
    return CheckpointPath(os.fspath(directory.resolve()))


def _directory(path: Any) -> Path:
    directory = Path(os.fspath(getattr(path, "path", path)))
    if not (directory / META).is_file():
        raise FileNotFoundError(
            f"{directory} is not an ember.rl checkpoint (no {META}); pass the directory "
            "Algorithm.save() returned")
    return directory


def read_meta(path: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((_directory(path) / META).read_text())
    return meta


def read_state(path: Any) -> dict[str, Any]:
    with open(_directory(path) / STATE, "rb") as file:
        state: dict[str, Any] = pickle.load(file)
    return state


class Policy:
    """A trained policy without env or runners: ``compute_single_action(obs)``.

    Example::

        policy = Algorithm.policy_from_checkpoint(path)
        action = policy.compute_single_action(obs)      # greedy; int for Discrete
    """

    def __init__(self, state: dict[str, Any]):
        import torch

        from ._model import build_module

        self.algo = state["algo"]
        self.observation_space = state["observation_space"]
        self.action_space = state["action_space"]
        self.module = build_module(self.algo, self.observation_space, self.action_space,
                                   {"model": state["model"], "dueling": state.get("dueling", False)})
        self.module.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in state["weights"].items()})
        self.module.eval()

    @classmethod
    def from_checkpoint(cls, path: Any) -> Policy:
        with open(_directory(path) / POLICY, "rb") as file:
            return cls(pickle.load(file))

    def compute_actions(self, obs_batch: Any) -> np.ndarray:
        """Greedy actions for a batch of observations [B, ...], as the env takes them."""
        import torch

        from ._model import env_action, to_tensor

        with torch.no_grad():
            x = to_tensor(np.asarray(obs_batch), self.observation_space)
            out = self.module.greedy(x) if self.algo == "PPO" else self.module(x).argmax(-1)
        return env_action(out, self.action_space)

    def compute_single_action(self, obs: Any) -> Any:
        """The greedy action for one observation: a plain int for a Discrete space."""
        action = self.compute_actions(np.asarray(obs)[None])[0]
        return int(action) if action.ndim == 0 else action
