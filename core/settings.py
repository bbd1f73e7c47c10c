"""The settings Ember reads from the environment, for Ember's libraries (serve, train,
...) to read them the way the core does (one parser, one error message per variable).
The list of variables and their meaning is in ``_env``'s docstring."""

from ._env import serve_placement_timeout_s, wait_warning_s

__all__ = ["serve_placement_timeout_s", "wait_warning_s"]
