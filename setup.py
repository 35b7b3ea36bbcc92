"""Packaging details pyproject.toml cannot say: the top-level templates/ folder ships as digest/templates.

Package data (which files ship) is in pyproject.toml's [tool.setuptools.package-data].
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["digest", "digest.*", "flows", "flows.*"]), "digest.templates"],
    package_dir={"digest.templates": "templates"},
)
