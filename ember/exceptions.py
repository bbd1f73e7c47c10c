"""Ember's exceptions, importable as ``ember.exceptions`` (see ``ember.core.exceptions``)."""

from ember.core.exceptions import *
from ember.core.exceptions import __all__  # noqa: F401
