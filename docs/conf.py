"""Sphinx configuration for the cloudstack-vmsnap documentation."""

project = "cloudstack-vmsnap"
author = "The cloudstack-vmsnap authors"
copyright = "2026, " + author
extensions = ["myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
