"""EnvRunnerGroup: the driver's runner (``num_env_runners=0``) or a set of runner actors.

    weights --ember.put, once per sample()--> ref --> runner 1 .sample.remote(ref, T)
                                                  --> runner 2 .sample.remote(ref, T)
    fragments <-- ember.get, one by one; a runner that failed is replaced by a new
                  actor (``restart_failed_env_runners``) and the others' fragments are kept

Failure policy: an env that raises or returns NaN fails its runner's call. With
``restart_failed_env_runners`` the runner is replaced and ``sample()`` returns what the
healthy runners produced (it samples again when none did, up to ``_ATTEMPTS`` rounds);
when every round fails, or restarts are off or used up, the env's exception is raised
to ``train()``'s caller, with its type, its message and which env of which runner.
"""

from __future__ import annotations

from typing import Any

import ember

from ._runner import EnvRunner

_ATTEMPTS = 3  # rounds in one sample() call in which every runner failed, before raising


class EnvRunnerGroup:
    """Runs ``sample`` on every runner; see the module docstring."""

    def __init__(self, config: Any, observation_space: Any, action_space: Any):
        self.config = config
        self.spaces = (observation_space, action_space)
        self.num_restarts = 0
        self.local: EnvRunner | None = None
        self.actors: list[Any] = []
        if config.num_env_runners == 0:
            self.local = EnvRunner(config, 0, *self.spaces)
        else:
            self.actor_class = ember.remote(num_cpus=config.num_cpus_per_env_runner)(EnvRunner)
            self.actors = [self._new_actor(i + 1) for i in range(config.num_env_runners)]

    def _new_actor(self, index: int) -> Any:
        return self.actor_class.remote(self.config, index, *self.spaces, self.num_restarts)

    @property
    def num_healthy_runners(self) -> int:
        return len(self.actors) if self.actors else 1

    def sample(self, weights: dict[str, Any], num_steps: int, epsilon: float | None = None
               ) -> list[dict[str, Any]]:
        """One fragment of ``num_steps`` vector steps from each runner that succeeded."""
        last_error: BaseException | None = None
        for _ in range(_ATTEMPTS):
            fragments, errors = self._sample_once(weights, num_steps, epsilon)
            if fragments:
                return fragments
            last_error = errors[-1]
        assert last_error is not None
        raise last_error

    def _sample_once(self, weights: dict[str, Any], num_steps: int, epsilon: float | None
                     ) -> tuple[list[dict[str, Any]], list[BaseException]]:
        if self.local is not None:
            try:
                return [self.local.sample(weights, num_steps, epsilon)], []
            except Exception as error:  # noqa: BLE001  whatever the env raised
                self._restart(0, error)
                return [], [error]
        ref = ember.put(weights)
        calls = [actor.sample.remote(ref, num_steps, epsilon) for actor in self.actors]
        fragments, errors = [], []
        for i, call in enumerate(calls):
            try:
                fragments.append(ember.get(call))
            except Exception as error:  # noqa: BLE001  an env's error or a dead actor
                self._restart(i, error)
                errors.append(error)
        return fragments, errors

    def _restart(self, i: int, error: BaseException) -> None:
        """Replace runner ``i`` after ``error``, or re-raise it when that is not allowed."""
        config = self.config
        if not config.restart_failed_env_runners:
            raise error
        if self.num_restarts >= config.max_num_env_runner_restarts:
            error.add_note(
                f"env runners were restarted {self.num_restarts} times, the "
                f"max_num_env_runner_restarts limit; raise it or fix the env")
            raise error
        self.num_restarts += 1
        if self.local is not None:
            self.local.stop()
            self.local = EnvRunner(config, 0, *self.spaces, self.num_restarts)
            return
        ember.kill(self.actors[i])
        self.actors[i] = self._new_actor(i + 1)

    def stop(self) -> None:
        """Close the envs and end the runner actors (their processes exit)."""
        if self.local is not None:
            self.local.stop()
            self.local = None
        if self.actors:
            # Let each runner close its envs (ASYNC mode's env processes) before it ends.
            closing = [actor.stop.remote() for actor in self.actors]
            ember.wait(closing, num_returns=len(closing), timeout=10)
        for actor in self.actors:
            ember.kill(actor)
        self.actors = []
