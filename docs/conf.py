"""Sphinx configuration of the API reference (built from the docstrings).

Build it with ``.venv/bin/sphinx-build -W -b html docs docs/_build`` (warnings are
errors; tests/test_api_docs.py builds it the same way).
"""

project = "Ember"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_default_options = {"members": True, "imported-members": True,
                           "member-order": "bysource", "show-inheritance": False}
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
