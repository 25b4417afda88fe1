"""The Golden Api service.

Golden service
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("golden-api")
except PackageNotFoundError:  # Running from a checkout that was never installed.
    __version__ = "0.0.0"

__all__ = ["__version__"]
