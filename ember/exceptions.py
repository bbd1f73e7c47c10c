"""Ember's exceptions, importable as ``ember.exceptions`` (see ``ember.core.exceptions``)."""

from ember.core.exceptions import *  # noqa: F401,F403
from ember.core.exceptions import __all__  # noqa: F401
