"""What each command reports on the terminal: new, run, add and remove, api-version, update, check.

Printed on the consoles of :mod:`fastscaffold.console`; Rich is imported lazily,
as there.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from fastscaffold.console import err, out, print_diff

if TYPE_CHECKING:
    from fastscaffold.api_versions import VersionChange
    from fastscaffold.creation import NewResult
    from fastscaffold.patterns import PatternChange
    from fastscaffold.plan import Plan
    from fastscaffold.project import Project
    from fastscaffold.runner import RunOptions
    from fastscaffold.update import CheckReport, RepairReport, UpdateResult


def print_plan_tree(plan: Plan, *, title: str) -> None:
    """Show the files of ``plan`` as a tree, marking what would change."""
    from rich.markup import escape
    from rich.tree import Tree

    from fastscaffold.plan import Action

    tree = Tree(f"[bold]{escape(title)}[/]")
    nodes: dict[PurePosixPath, Tree] = {}
    marks = {
        Action.CREATE: "",
        Action.UPDATE: " [yellow](replaced)[/]",
        Action.UNCHANGED: " [dim](unchanged)[/]",
    }
    for change in plan.changes:
        path = PurePosixPath(change.path)
        node = tree
        for depth in range(1, len(path.parts)):
            folder = PurePosixPath(*path.parts[:depth])
            if folder not in nodes:
                nodes[folder] = node.add(f"[blue]{escape(folder.name)}/[/]")
            node = nodes[folder]
        node.add(escape(path.name) + marks[change.action])
    out().print(tree)


def print_replacements(plan: Plan) -> None:
    """List the existing files ``--force`` is about to replace (before writing)."""
    from fastscaffold.plan import Action

    updates = plan.of(Action.UPDATE)
    backups = [c for c in updates if not c.path.startswith(".fastscaffold/backup/")]
    if not backups:
        return
    err().print(
        f"[yellow]--force:[/] {len(backups)} existing file(s) will be replaced; "
        "their previous content is kept under .fastscaffold/backup/:"
    )
    for change in backups:
        err().print(f"  [yellow]~[/] {change.path}")


def print_new_result(result: NewResult) -> None:
    """Summarise what ``new`` created (or would create) and what to do next."""
    from rich.markup import escape
    from rich.panel import Panel

    from fastscaffold.plan import Action

    if result.dry_run:
        print_plan_tree(result.plan, title=f"{result.destination} (dry run: nothing written)")
        return
    # Count the project's own files, not fastscaffold's record of them.
    created = sum(
        1 for c in result.plan.of(Action.CREATE) if not c.path.startswith(".fastscaffold/")
    )
    replaced = len(result.backups)
    lines = [
        f"[green]Created[/] [bold]{escape(str(result.destination))}[/] "
        f"({created} files{f', {replaced} replaced' if replaced else ''}).",
        f"Package: [bold]{result.names.package}[/]  App: [bold]{result.names.package}.main:app[/]",
        f"Patterns: {', '.join(result.patterns)}"
        if result.patterns
        else "Patterns: none (add some later with fastscaffold add; see fastscaffold list)",
        "",
        "[bold]Next steps[/]",
        f"  cd {escape(shlex.quote(str(result.destination)))}",
    ]
    if result.venv is None:
        lines.append(
            escape("  python -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]'")
        )
    else:
        activate = "  . .venv/bin/activate"
        if result.venv.lock is not None:
            activate += "     # or prefix commands with `uv run`; commit uv.lock"
        lines.append(escape(activate))
    lines += [
        "  fastscaffold run          # serve with reload on http://127.0.0.1:8000",
        "  pytest                    # the project's own tests",
    ]
    out().print(Panel("\n".join(lines), title="fastscaffold new", expand=False))


def print_run_banner(project: Project, options: RunOptions, python: Path) -> None:
    """Show what is being served, where, and how to stop it."""
    host = options.host
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    base = f"http://[{shown}]:{options.port}" if ":" in shown else f"http://{shown}:{options.port}"
    mode = "reload on" if options.effective_reload else f"{options.workers} worker(s), no reload"
    err().print(f"[bold]Serving[/] {project.entrypoint} from {project.root} ({mode})")
    err().print(f"  Python  {python}")
    err().print(f"  App     {base}")
    err().print(f"  Docs    {base}/docs")
    err().print(f"  Health  {base}/health")
    err().print("[dim]Press Ctrl-C to stop.[/]")


def print_pattern_change(change: PatternChange) -> None:
    """Report what ``add`` or ``remove`` changed (or would), and what to do next."""
    from rich.markup import escape

    from fastscaffold.plan import Action

    if change.dry_run:
        print_diff(change.plan)
    for name in change.unchanged:
        verb = "is already applied" if change.operation == "add" else "is not applied"
        err().print(f"[dim]{escape(name)} {verb}: nothing to do.[/]")
    if change.required:
        err().print(f"Also adding what they require: {', '.join(change.required)}")
    marks = {
        Action.CREATE: "[green]+[/]",
        Action.UPDATE: "[yellow]~[/]",
        Action.DELETE: "[red]-[/]",
    }
    if not change.dry_run:
        for c in change.plan.writes:
            if not c.path.startswith(".fastscaffold/"):
                err().print(f"  {marks[c.action]} {escape(c.path)}")
    for path in change.kept:
        verb = "Would keep" if change.dry_run else "Kept"
        err().print(f"[yellow]{verb}[/] {escape(path)}: you edited it, so it is yours now.")
    for path in change.side_files:
        err().print(f"[yellow]Your edits kept:[/] see {escape(path)}")
    for step in change.manual_steps:
        err().print(f"[yellow]By hand:[/] {escape(step)}")
    if change.edited and change.dry_run:
        err().print(
            "[yellow]Edited by you, in the way:[/] " + ", ".join(map(escape, change.edited))
        )
    done = "Would add" if change.dry_run else "Added"
    if change.added:
        err().print(f"[green]{done}[/] {', '.join(change.added)}.")
    if change.removed:
        verb = "Would remove" if change.dry_run else "Removed"
        err().print(f"[green]{verb}[/] {', '.join(change.removed)}.")
    if change.lock_problem is not None:
        err().print(f"[yellow]Lock not updated:[/] {escape(change.lock_problem)}")
    if change.relocked:
        err().print("Dependencies changed; uv.lock is updated. Install them: uv sync")
    elif change.dependencies_changed and not change.dry_run:
        err().print(
            "Dependencies changed; install them: "
            + escape("pip install -e '.[dev]'")
            + " (or fastscaffold run, which checks them)."
        )
    if (change.added or change.removed) and not change.dry_run:
        err().print(
            "Next: run the project's tests (pytest); `fastscaffold list` shows what is applied."
        )


def print_catalog(rows: list[dict[str, object]], *, in_project: bool) -> None:
    """Show the patterns as a table."""
    from rich.table import Table

    table = Table(title="fastscaffold patterns")
    table.add_column("pattern", style="bold")
    table.add_column("summary")
    table.add_column("requires")
    if in_project:
        table.add_column("applied")
    for row in rows:
        cells = [str(row["name"]), str(row["summary"]), ", ".join(row["requires"])]  # type: ignore[arg-type]
        if in_project:
            cells.append("yes" if row["applied"] else "")
        table.add_row(*cells)
    out().print(table)
    out().print("Details of one pattern: fastscaffold show PATTERN")


def print_usage(text: str) -> None:
    """Show a pattern's USAGE document."""
    from rich.markdown import Markdown

    out().print(Markdown(text))


def print_version_change(change: VersionChange) -> None:
    """Report what an ``api-version`` command changed (or would), and any manual step."""
    from rich.markup import escape

    if change.dry_run:
        print_diff(change.plan)
    elif change.changed:
        for c in change.plan.writes:
            if not c.path.startswith(".fastscaffold/"):
                err().print(
                    f"  {'[green]+[/]' if c.old is None else '[yellow]~[/]'} {escape(c.path)}"
                )
    for step in change.manual_steps:
        err().print(f"[yellow]By hand:[/] {escape(step)}")
    prefix = "Would do: " if change.dry_run else ""
    err().print(f"{prefix}{escape(change.summary)}")


def print_update(result: UpdateResult) -> None:
    """Report what ``update`` merged (or would), file by file."""
    from rich.markup import escape

    from fastscaffold.policies import Outcome

    if result.dry_run:
        print_diff(result.plan)
    for step in result.migrations:
        err().print(f"[blue]Migration[/] {escape(step)}")
    styles = {
        Outcome.UPDATED: "green",
        Outcome.MERGED: "green",
        Outcome.CREATED: "green",
        Outcome.DELETED: "red",
        Outcome.RENAMED: "blue",
        Outcome.CONFLICT: "bold red",
        Outcome.KEPT: "yellow",
        Outcome.KEPT_DELETED: "yellow",
        Outcome.SKIPPED: "bold red",
    }
    for path, outcome in result.outcomes.items():
        err().print(f"  [{styles[outcome]}]{outcome.value:>12}[/] {escape(path)}")
    for step in result.manual_steps:
        err().print(f"[yellow]By hand:[/] {escape(step)}")
    if not (result.project_changes or result.outcomes):
        err().print("[green]Up to date[/] with the installed templates: nothing to do.")
        return
    verb = "Would update" if result.dry_run else "Updated"
    err().print(f"{verb} {len(result.outcomes)} file(s).")
    if result.conflicts:
        err().print(
            f"[bold red]{len(result.conflicts)} conflict(s)[/]: resolve the marked regions "
            "(or .rej files), then run `fastscaffold check`."
        )


def print_unresolved(markers: Sequence[str], rejects: Sequence[str]) -> None:
    """Remind the user of conflicts an earlier update left to resolve."""
    from rich.markup import escape

    if not markers and not rejects:
        return
    left = [*markers, *rejects]
    err().print(
        f"[yellow]Still to resolve[/] from an earlier update ({len(left)}): "
        + ", ".join(map(escape, left))
        + ". Keep what you want, delete the markers (or the .rej files), then run "
        "`fastscaffold check`."
    )


def print_check(report: CheckReport) -> None:
    """Report what ``check`` found."""
    from rich.markup import escape

    if report.ok:
        err().print("[green]OK[/]: up to date with the installed templates, nothing to resolve.")
        return
    if report.behind:
        err().print(f"[yellow]Behind the installed templates[/] ({len(report.behind)} file(s)):")
        for path, what in report.behind.items():
            err().print(f"  {what:>12} {escape(path)}")
        err().print("Run `fastscaffold update --dry-run` to see the changes.")
    for step in report.manual_steps:
        err().print(f"[yellow]By hand:[/] {escape(step)}")
    for path in report.markers:
        err().print(f"[red]Conflict markers left[/] in {escape(path)}")
    for path in report.rejects:
        err().print(f"[red]Rejected change to resolve:[/] {escape(path)}")


def print_repair(report: RepairReport) -> None:
    """Report what ``check --repair`` rebuilt and what it could not."""
    from rich.markup import escape

    if not report.rebuilt and not report.unrepairable:
        err().print("[green]OK[/]: every base copy under .fastscaffold/base/ is intact.")
        return
    for path, source in report.rebuilt.items():
        err().print(f"  [green]rebuilt[/] {escape(path)} (from {escape(source)})")
    if report.unrepairable:
        err().print(
            f"[red]Cannot rebuild {len(report.unrepairable)} base copies exactly[/] (the file "
            "was edited and the installed templates render something else):"
        )
        for path in report.unrepairable:
            err().print(f"  {escape(path)}")
