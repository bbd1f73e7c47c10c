"""Ember: a Python-native, fast actor/task core with a shared-memory object store.

``import ember`` gives the core API; the libraries load on first use::

    import ember
    from ember import data, train, tune, serve, rl
"""

import importlib as _importlib
import os as _os

# Run from a source checkout's root, this folder shadows the installed package and the
# library folders sit beside it rather than inside it: look for them there too.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "core", "_api.py")) and _checkout not in __path__:
    __path__.append(_checkout)

from ember.core import *  # noqa: I001 - the core API is ember's top level; order kept (it binds exceptions too)
from ember.core import __all__ as _core_all
from ember import exceptions  # type: ignore[no-redef]  # noqa: F401 - the ember.exceptions module, not core's

__version__ = "0.1.0"
_LIBRARIES = ("data", "train", "tune", "serve", "rl")
__all__ = [*_core_all, *_LIBRARIES, "__version__"]  # noqa: PLE0604 - core's __all__ and _LIBRARIES hold only strings


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """Import a library on first access, so ``import ember`` stays light."""
    if name in _LIBRARIES:
        return _importlib.import_module(f"ember.{name}")
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
