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
            "rej (apply the rest, write the overlaps to FILE.rej) or fail (write nothing, "
            "exit 1). TOML files never get markers: their overlaps go to FILE.rej."
        ),
    ] = ConflictMode.INLINE,
) -> None:
    """Merge the installed templates into the project, keeping your edits (no git needed)."""
    from fastscaffold import reports
    from fastscaffold.record import read_record
    from fastscaffold.update import unresolved, update_project

    root = _root(project)
    result = update_project(root, conflict=conflict, dry_run=dry_run)
    reports.print_update(result)
    if not result.conflicts and not dry_run:
        reports.print_unresolved(*unresolved(root, read_record(root).files))
    if result.conflicts and not dry_run:
        raise typer.Exit(code=1)


@app.command(epilog="Examples (in CI): fastscaffold check | fastscaffold check --repair")
def check(
    project: ProjectOption = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rebuild missing or damaged base copies in .fastscaffold/base/ where that "
            "can be done exactly (from unedited files, or the templates that made them).",
        ),
    ] = False,
) -> None:
    """Exit 1 when the project is behind the templates or has unresolved merges; 0 otherwise."""
    from fastscaffold import reports
    from fastscaffold.update import check_project, repair_bases

    root = _root(project)
    if repair:
        repaired = repair_bases(root)
        reports.print_repair(repaired)
        if repaired.unrepairable:
            from fastscaffold.errors import ProjectStateError

            raise ProjectStateError(
                f"{len(repaired.unrepairable)} base copies could not be rebuilt; nothing "
                "else was changed.",
                "Restore .fastscaffold/ from version control (git checkout -- .fastscaffold), "
                "or install the fastscaffold version that made the project "
                "(see .fastscaffold/record.json) and run `fastscaffold check --repair` again.",
            )
    report = check_project(root)
    reports.print_check(report)
    if not report.ok:
        raise typer.Exit(code=1)
