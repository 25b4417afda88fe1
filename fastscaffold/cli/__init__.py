"""The `fastscaffold` command: thin Typer commands over the library.

Importing the command modules registers their commands on the one app.
"""

from fastscaffold.cli import generate, patterns, smoke, update
from fastscaffold.cli.api_version import api_version
from fastscaffold.cli.app import app, main

app.add_typer(api_version)

__all__ = ["app", "generate", "main", "patterns", "smoke", "update"]
