"""The `fastscaffold` Typer app and its one error boundary.

Each command (in the sibling modules) parses its options, calls one library function and hands the
result to fastscaffold.reports to show. The one error boundary is
:class:`BoundaryGroup`: fastscaffold's own errors become a red message, a
hint and their exit code; Ctrl-C exits 130; an OS error no library code
expected becomes one line too; anything else is a bug and keeps its
traceback (without local variables).
"""

from __future__ import annotations

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
        except BrokenPipeError:
            # The reader of the output went away (`fastscaffold list | head -1`): not an
            # error to report. Click's own handler quiets the streams and exits 1.
            raise
        except OSError as exc:
            # The library turns the OS errors it expects into FileSystemError; this
            # catches the rest (a folder made unreadable mid-command, ...): one line.
            from fastscaffold.errors import FileSystemError

            where = Path(exc.filename) if exc.filename else Path.cwd()
            failure = FileSystemError(path=where, action="use", reason=exc.strerror or str(exc))
            console.print_error(failure)
            raise typer.Exit(code=failure.exit_code) from None


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


def main() -> None:
    """Entry point of the ``fastscaffold`` console script."""
    app(prog_name="fastscaffold")
