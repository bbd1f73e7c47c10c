"""Every environment variable Ember reads, in one place.

- ``EMBER_SPILL_DIR``: parent directory for spilled objects (default: the system temp
  directory). Each session makes its own ``ember-spill-*`` folder inside it and
  removes it at exit, even after a crash of the driver.
- ``EMBER_CACHE_DIR``: where a session leaves its task trace when it shuts down, for
  ``ember timeline`` (default: ``$XDG_CACHE_HOME/ember`` or ``~/.cache/ember``).
- ``EMBER_LOGGING_LEVEL``: verbosity of Ember's own messages when ``ember.init`` is not
  given ``logging_level`` (default WARNING: quiet).
- ``EMBER_WAIT_WARNING_S``: seconds a task, actor or placement group may wait for
  resources held by actors or placement groups before Ember warns (default 10).
- ``EMBER_ADDRESS``: the Dask scheduler ``ember.init()`` connects to when it is not
  given ``address=`` (Ray's ``RAY_ADDRESS``); unset or empty: the embedded engine.
- ``EMBER_SERVE_PLACEMENT_TIMEOUT_S``: seconds ``serve.run`` waits for replicas the
  cluster has no room for before it gives up with an error (default 60).
"""

from __future__ import annotations

import os
import tempfile

from .exceptions import EmberError


def make_spill_dir() -> str:
    """A new private ``ember-spill-*`` folder for this session (mode 0700), inside
    ``EMBER_SPILL_DIR`` or the system temp directory."""
    configured = os.environ.get("EMBER_SPILL_DIR")
    parent = configured or tempfile.gettempdir()
    try:
        return tempfile.mkdtemp(prefix="ember-spill-", dir=parent)
    except OSError as error:
        where = f"EMBER_SPILL_DIR={configured!r}" if configured else f"the temp folder {parent!r}"
        fix = ("create that folder, or point EMBER_SPILL_DIR at a writable one "
               "(unset it to use the system temp folder)") if configured else \
            "set EMBER_SPILL_DIR to a writable folder"
        raise EmberError(
            f"cannot make the object store's spill folder in {where}: {error.strerror}; "
            f"{fix}") from error


def default_address() -> str | None:
    return os.environ.get("EMBER_ADDRESS") or None


def logging_level() -> str | None:
    return os.environ.get("EMBER_LOGGING_LEVEL") or None


def wait_warning_s() -> float:
    return _seconds("EMBER_WAIT_WARNING_S", 10.0)


def serve_placement_timeout_s() -> float:
    return _seconds("EMBER_SERVE_PLACEMENT_TIMEOUT_S", 60.0)


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EmberError(f"{variable} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise EmberError(f"{variable} must be >= 0, got {raw!r}")
    return value


def cache_dir() -> str:
    configured = os.environ.get("EMBER_CACHE_DIR")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ember")
