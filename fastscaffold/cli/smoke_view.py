"""What `fastscaffold smoke` shows: the live project-by-step table, failures and a summary."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastscaffold.smoke.results import STEPS, ProjectResult, SmokeReport, Status

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from fastscaffold.smoke.matrix import Prepared

SHOWN_TAIL_LINES = 20
_MARKS = {
    Status.PENDING: "[dim]·[/]",
    Status.PASSED: "[green]✓[/]",
    Status.FAILED: "[bold red]✗[/]",
    Status.SKIPPED: "[dim]skipped[/]",
}


# Short headers, so that the table fits an 80-column CI log.
_HEADERS = {"generate": "new", "ruff check": "ruff", "ruff format": "format"}


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"


class LiveTable:
    """The table of a running matrix; Rich's Live redraws it from the shared results."""

    def __init__(self) -> None:
        self.results: list[ProjectResult] = []
        self._started: dict[tuple[str, str], float] = {}

    def attach(self, results: list[ProjectResult]) -> None:
        """Show ``results`` (the run updates them in place)."""
        self.results = results

    def __rich__(self) -> RenderableType:
        from rich.spinner import Spinner
        from rich.table import Table

        table = Table(title="fastscaffold smoke", title_justify="left", expand=False)
        table.add_column("project", overflow="fold")
        for name in STEPS:
            table.add_column(_HEADERS.get(name, name), justify="center", no_wrap=True)
        for result in self.results:
            cells: list[RenderableType] = []
            for step in result.steps:
                key = (result.project.id, step.name)
                if step.status is Status.RUNNING:
                    began = self._started.setdefault(key, time.monotonic())
                    cells.append(Spinner("dots", text=_seconds(time.monotonic() - began)))
                elif step.status in (Status.PASSED, Status.FAILED):
                    cells.append(f"{_MARKS[step.status]} {_seconds(step.seconds)}")
                else:
                    cells.append(_MARKS[step.status])
            table.add_row(result.project.id, *cells)
        return table


def print_plan(console: Console, prepared: Prepared) -> None:
    """Show what a run would build (``--dry-run``), after the patterns validated."""
    from rich.markup import escape

    console.print(
        f"[green]Patterns valid:[/] {escape(', '.join(prepared.patterns))}. "
        f"{len(prepared.projects)} project(s) would be checked:"
    )
    for project in prepared.projects:
        how = []
        if project.with_patterns:
            how.append("new --with " + " --with ".join(project.with_patterns))
        if project.edited:
            how.append("user edits")
        if project.added_later:
            how.append("then add " + ", add ".join(project.added_later))
        if project.update_from is not None:
            how.append(f"update from {project.update_from}")
        console.print(f"  {escape(project.id)}: {escape('; '.join(how) or 'new')}")
    console.print(f"Steps in each: {', '.join(STEPS)}.")


def print_failures(console: Console, report: SmokeReport) -> None:
    """Show the last lines of every failing step, under its project and step."""
    from rich.markup import escape
    from rich.rule import Rule

    for result in report.projects:
        for step in result.failed:
            title = f"[red]{escape(result.project.id)}: {step.name}[/] ({escape(step.reason)})"
            console.print(Rule(title))
            if step.command:
                console.print(f"[dim]$ {escape(step.command)}[/]")
            lines: Sequence[str] = step.tail[-SHOWN_TAIL_LINES:]
            for line in lines:
                console.print(escape(line), soft_wrap=True)


def print_summary(console: Console, report: SmokeReport) -> None:
    """Show one line: projects, steps passed / failed / skipped, and the time taken."""
    counts = report.counts()
    failed = [r.project.id for r in report.projects if r.failed]
    verdict = "[bold green]All passed.[/]" if report.ok else "[bold red]Failed.[/]"
    console.print(
        f"{verdict} {len(report.projects)} project(s): {counts['passed']} step(s) passed, "
        f"{counts['failed']} failed, {counts['skipped']} skipped, in {report.seconds:.1f} s."
    )
    if failed:
        console.print(f"Failing projects: {', '.join(failed)}.")
