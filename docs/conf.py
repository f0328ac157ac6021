"""Sphinx configuration for the authcore documentation."""

from __future__ import annotations

import authcore

project = "authcore"
author = "The authcore developers"
copyright = "2026, The authcore developers"
release = authcore.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"authcore {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
# Intersphinx needs the network, which documentation builds here do not have.
intersphinx_mapping: dict[str, tuple[str, None]] = {}
suppress_warnings = ["myst.header"]
