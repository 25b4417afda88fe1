"""`fastscaffold smoke`: the CI smoke test of generated projects, for shipped and team patterns."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from fastscaffold.cli.app import app


def _terminate(_signum: int, _frame: Any) -> None:
    # A cancelled CI job sends SIGTERM: clean up exactly as for Ctrl-C.
    raise KeyboardInterrupt


@app.command(
    epilog="Examples: fastscaffold smoke --all --dry-run | "
    "fastscaffold smoke tasks --combinations alone --dry-run"
)
def smoke(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="Patterns to check (default: see --all).")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Check every pattern (shipped and your own).")
    ] = False,
    patterns_path: Annotated[
        list[Path] | None,
        typer.Option(
            "--patterns-path",
            help="A folder of your own pattern folders (repeatable); with no PATTERN and no "
            "--all, its patterns are the ones checked.",
        ),
    ] = None,
    combinations: Annotated[
        str,
        typer.Option(
            help="Which projects to build, comma-separated: base (no pattern), alone (each "
            "pattern), all (together), add (new, user edits, then add each), update (a copy "
            "of --from DIR updated)."
        ),
    ] = "base,alone,all,add",
    jobs: Annotated[
        int, typer.Option(help="Projects checked at the same time (default: CPU count).")
    ] = os.cpu_count() or 1,
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here.")] = None,
    keep: Annotated[
        Path | None,
        typer.Option(help="Build the projects in this folder and keep them (default: removed)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    update_from: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A project generated earlier (older fastscaffold or older patterns): a copy "
            "of it is updated and checked.",
        ),
    ] = None,
    install: Annotated[
        bool,
        typer.Option(
            help="Install each set of dependencies into an environment of its own (uv, else "
            "pip); --no-install runs the tools on fastscaffold's own interpreter."
        ),
    ] = True,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Validate the patterns and show the plan; run nothing."),
    ] = False,
) -> None:
    """Generate projects from patterns and prove they install, lint, type-check and pass tests.

    Exits 1 when any step fails, 2 on bad options; Ctrl-C stops every child process.
    """
    from rich.live import Live

    from fastscaffold import console
    from fastscaffold.cli.smoke_view import LiveTable, print_failures, print_plan, print_summary
    from fastscaffold.smoke import (
        SmokeOptions,
        parse_combinations,
        prepare,
        run_matrix,
        to_json,
        to_junit,
    )
    from fastscaffold.smoke import (
        patterns_path as team_patterns,
    )

    options = SmokeOptions(
        patterns=tuple(patterns or ()),
        every=every,
        patterns_path=tuple(patterns_path or ()),
        combinations=parse_combinations(combinations),
        update_from=update_from,
        jobs=jobs,
        keep=keep,
        install=install,
    )
    if update_from is not None and "update" not in options.combinations:
        options = dataclasses.replace(options, combinations=(*options.combinations, "update"))
    shown = console.err() if as_json else console.out()
    with team_patterns(options.patterns_path):
        prepared = prepare(options)
        if dry_run:
            print_plan(shown, prepared)
            return
        table = LiveTable()
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            with Live(table, console=shown, refresh_per_second=8):
                report = run_matrix(prepared, options, started=table.attach)
            shown.print()
        finally:
            signal.signal(signal.SIGTERM, previous)
    print_failures(shown, report)
    print_summary(shown, report)
    if junit is not None:
        from fastscaffold.errors import FileSystemError

        try:
            junit.write_text(to_junit(report), encoding="utf-8")
        except OSError as exc:
            raise FileSystemError(
                path=junit, action="write", reason=exc.strerror or str(exc)
            ) from None
    if as_json:
        typer.echo(to_json(report), nl=False)
    if not report.ok:
        raise typer.Exit(code=1)
