"""Every environment variable Ember reads, in one place.

- ``EMBER_SPILL_DIR``: parent directory for spilled objects (default: the system temp
  directory). Each session makes its own ``ember-spill-*`` folder inside it and
  removes it at exit, even after a crash of the driver.
"""

from __future__ import annotations

import os
import tempfile


def spill_parent_dir() -> str:
    return os.environ.get("EMBER_SPILL_DIR") or tempfile.gettempdir()
