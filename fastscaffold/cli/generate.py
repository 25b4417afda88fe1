"""`fastscaffold new` and `fastscaffold run`: creating a project and serving it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fastscaffold.cli.app import app


def _is_interactive(no_input: bool) -> bool:
    """Ask questions only when a person can answer them."""
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()


@app.command(
    epilog="Examples: fastscaffold new orders-api | "
    "fastscaffold new orders-api --no-input --author 'Jane Doe' --python 3.12 | "
    "fastscaffold new orders-api --dir ~/code --no-input --venv | "
    "fastscaffold new orders-api --no-input --with tasks --set tasks.engine=taskiq | "
    "fastscaffold new orders-api --dry-run"
)
def new(
    name: Annotated[
        str, typer.Argument(help="Distribution name, e.g. orders-api (package: orders_api).")
    ],
    parent: Annotated[
        Path, typer.Option("--dir", help="Folder to create the project in.", show_default=".")
    ] = Path(),
    description: Annotated[
        str | None, typer.Option(help="One-line description (asked on a terminal if omitted).")
    ] = None,
    author: Annotated[
        str | None,
        typer.Option(
            help="Author's name for the package metadata (asked on a terminal if omitted)."
        ),
    ] = None,
    python_version: Annotated[
        str | None,
        typer.Option(
            "--python",
            help="Lowest Python version the project supports: 3.11, 3.12 or 3.13 "
            "(asked on a terminal if omitted).",
        ),
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never ask; use defaults for unanswered questions.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the files it would create; write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Generate into an existing non-empty folder. Nothing is deleted; replaced "
            "files are listed first and backed up under .fastscaffold/backup/.",
        ),
    ] = False,
    venv: Annotated[
        bool,
        typer.Option("--venv", help="Create .venv and install the project with its dev extra."),
    ] = False,
    with_patterns: Annotated[
        str | None,
        typer.Option("--with", help="Patterns to add, comma-separated (see fastscaffold list)."),
    ] = None,
    all_patterns: Annotated[bool, typer.Option("--all", help="Add every pattern.")] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="An option of a pattern added, as key=value or pattern.key=value (repeatable; "
            "see fastscaffold show PATTERN).",
        ),
    ] = None,
) -> None:
    """Generate a new FastAPI project, ready to run, lint, type-check and test."""
    from fastscaffold import console, reports
    from fastscaffold.creation import NewOptions, new_project

    interactive = _is_interactive(no_input)
    options = NewOptions(
        name=name,
        parent=parent,
        description=description,
        author=author,
        python_version=python_version,
        interactive=interactive,
        dry_run=dry_run,
        force=force,
        venv=venv,
        patterns=_chosen_patterns(with_patterns, all_patterns, interactive=interactive),
        settings=tuple(settings or ()),
    )
    with console.progress_steps() as progress:
        result = new_project(
            options,
            progress=progress,
            on_plan=reports.print_replacements,
            ask=console.ask_question,
        )
    reports.print_new_result(result)


def _chosen_patterns(given: str | None, everything: bool, *, interactive: bool) -> tuple[str, ...]:
    """Return the patterns for ``new``: --all, --with, or a checklist on a terminal."""
    from fastscaffold.catalog import load_catalog
    from fastscaffold.errors import PatternError

    if everything and given:
        raise PatternError("--with and --all cannot be used together.", "Choose one of them.")
    if given is not None:
        return tuple(name.strip() for name in given.split(",") if name.strip())
    if not everything and not interactive:
        return ()
    choices = [p for p in load_catalog().values() if p.manifest.kind == "pattern"]
    if everything or not choices:
        return tuple(p.name for p in choices)
    import questionary  # installed with copier, which prompts with it too

    picked: list[str] = questionary.checkbox(
        "Patterns to add (space selects, enter confirms)",
        choices=[questionary.Choice(f"{p.name}: {p.manifest.summary}", p.name) for p in choices],
    ).unsafe_ask()
    return tuple(picked)


@app.command(
    epilog="Examples: fastscaffold run | fastscaffold run --port 8080 --no-reload | "
    "fastscaffold run --project ./orders-api --workers 4"
)
def run(
    project: Annotated[
        Path | None,
        typer.Option(help="The project folder (default: found from the current folder up)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to bind.", envvar="PORT", min=1, max=65535)
    ] = 8000,
    reload: Annotated[
        bool, typer.Option("--reload/--no-reload", help="Restart on code changes.")
    ] = True,
    workers: Annotated[
        int, typer.Option(help="Worker processes; more than 1 turns reload off.", min=1)
    ] = 1,
) -> None:
    """Serve the project's app with uvicorn, in the project's own interpreter."""
    from fastscaffold import reports
    from fastscaffold.project import find_project
    from fastscaffold.runner import RunOptions, run_project

    found = find_project(project if project is not None else Path.cwd())
    options = RunOptions(host=host, port=port, reload=reload, workers=workers)
    code = run_project(
        found, options, on_start=lambda python: reports.print_run_banner(found, options, python)
    )
    # A server killed by a signal reports -N; shells report that as 128 + N.
    raise typer.Exit(code=code if code >= 0 else 128 - code)
