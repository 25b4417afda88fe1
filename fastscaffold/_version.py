"""The installed fastscaffold version, also the version of the templates it ships."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fastscaffold")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0.0.0"
