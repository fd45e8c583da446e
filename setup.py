"""Keeps `--setup_file ./setup.py` working for Dataflow workers; configuration: pyproject.toml."""

import setuptools

setuptools.setup()
