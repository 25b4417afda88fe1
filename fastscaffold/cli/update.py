"""`fastscaffold update` and `check`: keeping a project up to the installed templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fastscaffold.cli.app import app
from fastscaffold.merge import ConflictMode

ProjectOption = Annotated[
    Path | None,
    typer.Option(help="The project folder (default: found from the current folder up)."),
]


def _root(project: Path | None) -> Path:
    from fastscaffold.project import find_project

    return find_project(project if project is not None else Path.cwd()).root


@app.command(
    epilog="Examples: fastscaffold update --dry-run | fastscaffold update | "
    "fastscaffold update --conflict rej | fastscaffold update --conflict fail"
)
def update(
    project: ProjectOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the merged diff of every file; write nothing.")
    ] = False,
    conflict: Annotated[
        ConflictMode,
        typer.Option(
            help="Where your edits overlap the templates' changes: inline (conflict markers), "
            "rej (keep your file, write FILE.rej) or fail (write nothing, exit 1)."
        ),
    ] = ConflictMode.INLINE,
) -> None:
    """Merge the installed templates into the project, keeping your edits (no git needed)."""
    from fastscaffold import console
    from fastscaffold.update import update_project

    result = update_project(_root(project), conflict=conflict, dry_run=dry_run)
    console.print_update(result)
    if result.conflicts and not dry_run:
        raise typer.Exit(code=1)


@app.command(epilog="Example (in CI): fastscaffold check")
def check(project: ProjectOption = None) -> None:
    """Exit 1 when the project is behind the templates or has unresolved merges; 0 otherwise."""
    from fastscaffold import console
    from fastscaffold.update import check_project

    report = check_project(_root(project))
    console.print_check(report)
    if not report.ok:
        raise typer.Exit(code=1)
