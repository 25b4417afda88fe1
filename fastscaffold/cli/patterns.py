"""`fastscaffold add`, `remove`, `list` and `show`: patterns in a project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fastscaffold.cli.app import app

if TYPE_CHECKING:
    from fastscaffold.patterns import PatternChange

ProjectOption = Annotated[
    Path | None,
    typer.Option(help="The project folder (default: found from the current folder up)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the unified diff of every change; write nothing.")
]


def _report(change: PatternChange, *, force: bool) -> None:
    """Show the change; a dry run that a real run would refuse exits like the real run."""
    from fastscaffold import reports
    from fastscaffold.errors import EditedFilesError

    reports.print_pattern_change(change)
    if change.dry_run and change.edited and not force:
        names = change.added or change.removed
        verb = "Adding" if change.operation == "add" else "Removing"
        raise EditedFilesError(paths=change.edited, action=f"{verb} {', '.join(names)}")


def _project_root(project: Path | None) -> Path:
    from fastscaffold.project import find_project

    return find_project(project if project is not None else Path.cwd()).root


@app.command(
    epilog="Examples: fastscaffold add websockets | fastscaffold add tasks upload --dry-run | "
    "fastscaffold add websockets --set websockets.max_connections_per_room=100"
)
def add(
    patterns: Annotated[list[str], typer.Argument(help="Patterns to add (see fastscaffold list).")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Go ahead when files you edited are in the way; your versions are kept "
            "(the new file beside yours as FILE.new, or a backup in .fastscaffold/backup/).",
        ),
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="An option, as key=value or pattern.key=value (repeatable)."),
    ] = None,
) -> None:
    """Add patterns to a project you may already have edited; adding again is a no-op."""
    from fastscaffold.patterns import add_patterns

    change = add_patterns(
        _project_root(project), patterns, settings=settings or (), force=force, dry_run=dry_run
    )
    _report(change, force=force)


@app.command(
    epilog="Examples: fastscaffold remove websockets | fastscaffold remove tasks --dry-run"
)
def remove(
    patterns: Annotated[list[str], typer.Argument(help="Patterns to remove.")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also delete pattern files you edited, and regenerate tool-owned files you "
            "edited; every edited file is backed up in .fastscaffold/backup/ first.",
        ),
    ] = False,
) -> None:
    """Remove patterns: unwire them, delete their unedited files, drop unneeded dependencies."""
    from fastscaffold.patterns import remove_patterns

    _report(
        remove_patterns(_project_root(project), patterns, force=force, dry_run=dry_run), force=force
    )


@app.command(name="list", epilog="Examples: fastscaffold list | fastscaffold list --json --all")
def list_patterns(
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include building blocks that patterns require.")
    ] = False,
) -> None:
    """List the patterns, and which ones the project you are in has applied."""
    from fastscaffold import reports
    from fastscaffold.catalog import load_catalog
    from fastscaffold.errors import ProjectNotFoundError
    from fastscaffold.record import read_record

    try:
        applied = set(read_record(_project_root(project)).units) - {"project"}
        in_project = True
    except ProjectNotFoundError:
        if project is not None:
            raise
        applied, in_project = set(), False
    rows: list[dict[str, object]] = [
        {
            "name": p.name,
            "summary": p.manifest.summary,
            "kind": p.manifest.kind,
            "requires": list(p.manifest.requires),
            "conflicts": list(p.manifest.conflicts),
            "applied": p.name in applied,
        }
        for p in load_catalog().values()
        if show_all or p.manifest.kind == "pattern" or p.name in applied
    ]
    if as_json:
        typer.echo(json.dumps({"in_project": in_project, "patterns": rows}, indent=2))
    else:
        reports.print_catalog(rows, in_project=in_project)


@app.command(epilog="Example: fastscaffold show websockets")
def show(
    pattern: Annotated[str, typer.Argument(help="The pattern to describe.")],
    raw: Annotated[bool, typer.Option("--raw", help="Print the Markdown source.")] = False,
) -> None:
    """Show a pattern's USAGE: what it adds, its options and how to use it."""
    from fastscaffold import reports
    from fastscaffold.catalog import get_pattern, load_catalog

    usage = get_pattern(load_catalog(), pattern).usage()
    if raw:
        typer.echo(usage, nl=False)
    else:
        reports.print_usage(usage)
