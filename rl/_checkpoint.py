"""Checkpoint directories and the lightweight policy a server loads from one.

    <dir>/rl_checkpoint.json    {"algo": "PPO", "format": 1, "training_iteration": 12}
    <dir>/algorithm_state.pkl   config, learner state (weights, optimizer), counters
    <dir>/policy_state.pkl      weights + spaces only: what ``Policy`` needs to act

``Policy.from_checkpoint(dir)`` reads only the last file and builds the network, with
no env and no runners, so a serve deployment can answer requests from it. A checkpoint
directory is a local folder or any location pyarrow.fs opens (``s3://...``,
``file:///...``).
"""

from __future__ import annotations

import json
import os
import pickle
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


def _storage(path: Any) -> tuple[Any, str, str]:
    """(pyarrow filesystem, path on it, the path as the user sees it) for a local folder,
    a URI such as ``s3://bucket/run`` or ``file:///...``, or a checkpoint object with
    ``.path`` (and ``.filesystem``) such as a tune trial's."""
    import pyarrow.fs as pafs

    filesystem = getattr(path, "filesystem", None)
    shown = os.fspath(getattr(path, "path", path))
    if filesystem is not None:
        return filesystem, shown, shown
    if "://" not in shown:
        local = os.path.abspath(os.path.expanduser(shown))
        return pafs.LocalFileSystem(), local, local
    try:
        filesystem, inner = pafs.FileSystem.from_uri(shown)
    except Exception as error:  # pyarrow raises ArrowInvalid / OSError by scheme
        raise ValueError(
            f"cannot open checkpoint location {shown!r}: {error}. Use a local folder or a URI "
            "pyarrow.fs understands (file://, s3://, gs://, hdfs://)") from error
    return filesystem, str(inner), shown


def write(path: str | os.PathLike[str], meta: dict[str, Any], state: dict[str, Any],
          policy: dict[str, Any]) -> CheckpointPath:
    filesystem, directory, shown = _storage(path)
    filesystem.create_dir(directory, recursive=True)
    for name, value in ((STATE, state), (POLICY, policy)):
        tmp = f"{directory}/{name}.tmp"
        with filesystem.open_output_stream(tmp) as out:
            out.write(cloudpickle.dumps(value))
        filesystem.move(tmp, f"{directory}/{name}")  # never a half-written file
    with filesystem.open_output_stream(f"{directory}/{META}") as out:  # last: it marks done
        out.write(json.dumps({**meta, "format": FORMAT}).encode())
    return CheckpointPath(shown)


def _read(path: Any, name: str) -> bytes:
    import pyarrow.fs as pafs

    filesystem, directory, shown = _storage(path)
    if filesystem.get_file_info(f"{directory}/{META}").type != pafs.FileType.File:
        raise FileNotFoundError(
            f"{shown} is not an ember.rl checkpoint (no {META}); pass the directory "
            "Algorithm.save() returned")
    with filesystem.open_input_stream(f"{directory}/{name}") as stream:
        data: bytes = stream.read()
    return data


def read_meta(path: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(_read(path, META))
    return meta


def read_state(path: Any) -> dict[str, Any]:
    state: dict[str, Any] = pickle.loads(_read(path, STATE))
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
        return cls(pickle.loads(_read(path, POLICY)))

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
