"""`fastscaffold api-version new | deprecate | retire`: the lifecycle of a versioned API."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastscaffold.api_versions import VersionChange

api_version = typer.Typer(
    name="api-version",
    help="Cut, deprecate and retire versions of a project with the versioning pattern.",
    no_args_is_help=True,
)

ProjectOption = Annotated[
    Path | None,
    typer.Option(help="The project folder (default: found from the current folder up)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the unified diff of every change; write nothing.")
]


def _root(project: Path | None) -> Path:
    from fastscaffold.project import find_project

    return find_project(project if project is not None else Path.cwd()).root


def _day(value: str, option: str) -> date:
    from fastscaffold.errors import InvalidAnswerError

    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidAnswerError(
            f"{option} {value!r} is not a date.", "Write it as YYYY-MM-DD, e.g. 2027-06-30."
        ) from None


def _show(change: VersionChange) -> None:
    from fastscaffold import reports

    reports.print_version_change(change)


@api_version.command(
    epilog="Examples: fastscaffold api-version new | fastscaffold api-version new v3 --dry-run"
)
def new(
    version: Annotated[
        str | None, typer.Argument(help="The new version (default: the next number).")
    ] = None,
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Write next to files of yours in the way (FILE.new).")
    ] = False,
) -> None:
    """Cut the next version from the latest: copy its edge, register it, add its contract."""
    from fastscaffold.api_versions import cut_version

    _show(cut_version(_root(project), version, force=force, dry_run=dry_run))


@api_version.command(
    epilog="Example: fastscaffold api-version deprecate v1 --sunset 2027-06-30 "
    "--link https://example.com/api/v2/docs"
)
def deprecate(
    version: Annotated[str, typer.Argument(help="The version to deprecate, e.g. v1.")],
    sunset: Annotated[str, typer.Option(help="The day it stops answering (YYYY-MM-DD).")],
    link: Annotated[
        str | None, typer.Option(help="Where clients learn how to migrate (an http(s) URL).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="The deprecation date (YYYY-MM-DD; default: today).")
    ] = None,
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Deprecate a version: Deprecation, Sunset and Link headers, then 410 from the sunset."""
    from fastscaffold.api_versions import deprecate_version

    change = deprecate_version(
        _root(project),
        version,
        sunset=_day(sunset, "--sunset"),
        link=link,
        since=_day(since, "--since") if since else None,
        dry_run=dry_run,
    )
    _show(change)


@api_version.command(epilog="Example: fastscaffold api-version retire v1")
def retire(
    version: Annotated[str, typer.Argument(help="The version to retire, e.g. v1.")],
    project: ProjectOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Retire a version: it answers 410 Gone and names its successor."""
    from fastscaffold.api_versions import retire_version

    _show(retire_version(_root(project), version, dry_run=dry_run))
