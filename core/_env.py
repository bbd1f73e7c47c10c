"""Every environment variable Ember reads, in one place.

- ``EMBER_SPILL_DIR``: parent directory for spilled objects (default: the system temp
  directory). Each session makes its own ``ember-spill-*`` folder inside it and
  removes it at exit, even after a crash of the driver.
- ``EMBER_CACHE_DIR``: where a session leaves its task trace when it shuts down, for
  ``ember timeline`` (default: ``$XDG_CACHE_HOME/ember`` or ``~/.cache/ember``).
"""

from __future__ import annotations

import os
import tempfile


def spill_parent_dir() -> str:
    return os.environ.get("EMBER_SPILL_DIR") or tempfile.gettempdir()


def cache_dir() -> str:
    configured = os.environ.get("EMBER_CACHE_DIR")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ember")
