"""The fastscaffold version, also the version of the templates it ships.

The single source of the version: hatchling reads it from here when building
(``[tool.hatch.version]``), which keeps start-up free of importlib.metadata.
"""

__version__ = "0.2.0"
