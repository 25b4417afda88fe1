"""fastscaffold: generate production-grade FastAPI projects and keep helping after day one.

The library API below never prints and never exits; the `fastscaffold`
command (fastscaffold.cli) is a thin layer over it. Names are imported on
first use, and heavy dependencies (copier, jinja2) only inside the functions
that need them, so that `fastscaffold --help` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fastscaffold._version import __version__

if TYPE_CHECKING:
    from fastscaffold.creation import NewOptions, NewResult, new_project
    from fastscaffold.errors import FastScaffoldError, UserError
    from fastscaffold.project import Project, find_project
    from fastscaffold.runner import RunOptions, build_run_command, check_dependencies, run_project

_EXPORTS = {
    "FastScaffoldError": "fastscaffold.errors",
    "NewOptions": "fastscaffold.creation",
    "NewResult": "fastscaffold.creation",
    "Project": "fastscaffold.project",
    "RunOptions": "fastscaffold.runner",
    "UserError": "fastscaffold.errors",
    "build_run_command": "fastscaffold.runner",
    "check_dependencies": "fastscaffold.runner",
    "find_project": "fastscaffold.project",
    "new_project": "fastscaffold.creation",
    "run_project": "fastscaffold.runner",
}

__all__ = [
    "FastScaffoldError",
    "NewOptions",
    "NewResult",
    "Project",
    "RunOptions",
    "UserError",
    "__version__",
    "build_run_command",
    "check_dependencies",
    "find_project",
    "new_project",
    "run_project",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastscaffold' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
