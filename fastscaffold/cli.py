"""The `fastscaffold` command: thin Typer commands over the library.

Each command parses its options, calls one library function and hands the
result to fastscaffold.console. The one error boundary is
:class:`BoundaryGroup`: fastscaffold's own errors become a red message, a
hint and their exit code; Ctrl-C exits 130; anything else is a bug and keeps
its traceback (without local variables).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fastscaffold._version import __version__
from fastscaffold.errors import FastScaffoldError

EXIT_INTERRUPTED = 130


class BoundaryGroup(TyperGroup):
    """The command group whose ``invoke`` is fastscaffold's single error boundary."""

    # The context is typed Any: Typer's Context class moved between releases
    # (click's, then Typer's vendored copy), and this method only passes it on.
    def invoke(self, ctx: Any) -> Any:
        """Run the chosen command, mapping fastscaffold errors to messages and exit codes."""
        from fastscaffold import console

        try:
            return super().invoke(ctx)
        except FastScaffoldError as error:
            console.print_error(error)
            raise typer.Exit(code=error.exit_code) from None
        except KeyboardInterrupt:
            console.err().print("[yellow]Aborted.[/] Nothing was left half-written.")
            raise typer.Exit(code=EXIT_INTERRUPTED) from None


app = typer.Typer(
    name="fastscaffold",
    cls=BoundaryGroup,
    help="Generate production-grade FastAPI projects, and keep helping after day one.",
    epilog="Example: fastscaffold new orders-api && cd orders-api && fastscaffold run",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"fastscaffold {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Generate production-grade FastAPI projects, and keep helping after day one."""


def _is_interactive(no_input: bool) -> bool:
    """Ask questions only when a person can answer them."""
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()


@app.command(
    epilog="Examples: fastscaffold new orders-api | "
    "fastscaffold new orders-api --dir ~/code --no-input --venv | "
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
) -> None:
    """Generate a new FastAPI project, ready to run, lint, type-check and test."""
    from fastscaffold import console
    from fastscaffold.creation import NewOptions, new_project

    options = NewOptions(
        name=name,
        parent=parent,
        description=description,
        interactive=_is_interactive(no_input),
        dry_run=dry_run,
        force=force,
        venv=venv,
    )
    with console.progress_steps() as progress:
        result = new_project(options, progress=progress, on_plan=console.print_replacements)
    console.print_new_result(result)


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
    from fastscaffold import console
    from fastscaffold.project import find_project
    from fastscaffold.runner import RunOptions, run_project

    found = find_project(project if project is not None else Path.cwd())
    options = RunOptions(host=host, port=port, reload=reload, workers=workers)
    code = run_project(
        found, options, on_start=lambda python: console.print_run_banner(found, options, python)
    )
    # A server killed by a signal reports -N; shells report that as 128 + N.
    raise typer.Exit(code=code if code >= 0 else 128 - code)


def main() -> None:
    """Entry point of the ``fastscaffold`` console script."""
    app(prog_name="fastscaffold")
