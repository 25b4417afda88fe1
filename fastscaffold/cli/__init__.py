"""The `fastscaffold` command: thin Typer commands over the library.

Importing the command modules registers their commands on the one app.
"""

from fastscaffold.cli import generate, patterns
from fastscaffold.cli.app import app, main

__all__ = ["app", "generate", "main", "patterns"]
