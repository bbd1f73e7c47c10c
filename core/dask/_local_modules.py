"""The driver's own modules travel with the code that uses them.

A script often imports a helper module next to it (``from train_digits import ...``).
Worker processes of a real cluster do not have that folder on their path, so code
pickled by reference to such a module fails there with ``ModuleNotFoundError``. Modules
that live under the driver script's folder (or the working directory, in a notebook)
and are not installed packages are registered with cloudpickle to be pickled by value,
as if they were part of the script. Installed packages (site-packages, the
interpreter's own) and Ember itself still travel by reference.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig

import cloudpickle  # type: ignore[import-untyped]


class LocalModules:
    """Registers the driver's local modules by value; cheap when nothing new is imported."""

    def __init__(self) -> None:
        main = sys.modules.get("__main__")
        main_file = getattr(main, "__file__", None)
        self.root = os.path.dirname(os.path.abspath(main_file)) if main_file else os.getcwd()
        installed = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
        installed.update(site.getsitepackages() + [site.getusersitepackages(), sys.prefix,
                                                    sys.base_prefix])
        self.installed = tuple(os.path.abspath(path) + os.sep for path in installed if path)
        self.seen = 0
        self.registered: set[str] = set()

    def register_new(self) -> None:
        """Call before pickling user code or values."""
        if len(sys.modules) == self.seen:
            return
        self.seen = len(sys.modules)
        for name, module in list(sys.modules.items()):
            if name in self.registered or name == "__main__" or module is None \
                    or name == "ember" or name.startswith("ember."):  # workers have Ember
                continue
            if self._is_local(getattr(module, "__file__", None)):
                try:
                    cloudpickle.register_pickle_by_value(module)
                except (ValueError, TypeError):  # not a real module object
                    continue
                self.registered.add(name)

    def _is_local(self, path: str | None) -> bool:
        if not path:
            return False
        path = os.path.abspath(path)
        return path.startswith(self.root + os.sep) and not path.startswith(self.installed)
