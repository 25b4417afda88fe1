"""fastscaffold: generate production-grade FastAPI projects and keep helping after day one.

The library API below never prints and never exits; the `fastscaffold`
command (fastscaffold.cli) is a thin layer over it. Heavy dependencies
(copier, jinja2) are imported inside the functions that need them, so that
importing this package, and `fastscaffold --help`, stay fast.
"""

from fastscaffold._version import __version__
from fastscaffold.creation import NewOptions, NewResult, new_project
from fastscaffold.errors import FastScaffoldError, UserError
from fastscaffold.project import Project, find_project
from fastscaffold.runner import RunOptions, build_run_command, check_dependencies, run_project

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
