"""`fastscaffold api-version`: cutting, deprecating and retiring versions of a versioned API.

These work on projects with the `versioning` pattern, whose lifecycle lives
in ``<package>/api/versions.toml``. Like ``add``, each command builds a
:class:`~fastscaffold.draft.Draft` (structured TOML edits through tomlkit,
new files checked against the record) and applies one atomic plan; running
one twice changes nothing the second time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from fastscaffold.draft import Draft
from fastscaffold.errors import EditedFilesError, PatternError, UserError
from fastscaffold.plan import Plan, apply_plan, read_tree
from fastscaffold.project import Project, load_project
from fastscaffold.record import Record, read_record

PATTERN = "versioning"
CONTRACTS_DIR = "tests/contracts"
_NAME = re.compile(r"^v[1-9][0-9]*$")


@dataclass(frozen=True)
class VersionChange:
    """What an ``api-version`` command did (or, with ``dry_run``, would do).

    Attributes:
        plan: Every file written or changed.
        summary: One sentence saying what changed, or why nothing had to.
        changed: Whether anything changes.
        manual_steps: What the user must do by hand.
        dry_run: True when nothing was written.
    """

    plan: Plan
    summary: str
    changed: bool
    manual_steps: tuple[str, ...] = ()
    dry_run: bool = False


class _Versions:
    """The project's versions.toml, parsed with tomlkit so edits keep its comments."""

    def __init__(self, project: Project, record: Record) -> None:
        import tomlkit

        if PATTERN not in record.units:
            raise PatternError(
                "This project has no versioned API (the versioning pattern is not applied).",
                "Add it first: fastscaffold add versioning",
            )
        self.path = f"{project.package}/api/versions.toml"
        self.api_dir = f"{project.package}/api"
        try:
            self.document = tomlkit.parse((project.root / self.path).read_text(encoding="utf-8"))
            self.table: Any = self.document["versions"]
            self.latest = str(self.document["latest"])
        except (OSError, KeyError, tomlkit.exceptions.TOMLKitError) as exc:
            raise UserError(
                f"Cannot read {self.path}: {exc}.",
                "Restore it from version control, or fix it by hand (see its comments).",
            ) from None

    def names(self) -> list[str]:
        return sorted((str(n) for n in self.table), key=lambda name: int(name[1:]))

    def require(self, name: str) -> Any:
        if name not in self.table:
            raise PatternError(
                f"There is no API version {name!r}.",
                f"Versions: {', '.join(self.names())} (see {self.path}).",
            )
        return self.table[name]

    def refuse_latest(self, name: str, action: str) -> None:
        if name == self.latest:
            raise PatternError(
                f"Cannot {action} {name}: it is the latest version, so clients have nowhere to go.",
                "Cut its successor first: fastscaffold api-version new",
            )

    def text(self) -> str:
        import tomlkit

        return tomlkit.dumps(self.document)


def _open(root: Path, *, force: bool) -> tuple[Project, Draft, _Versions]:
    project = load_project(root)
    record = read_record(root)
    return project, Draft(root, record, force=force), _Versions(project, record)


def _finish(
    draft: Draft, versions: _Versions, summary: str, *, dry_run: bool, action: str
) -> VersionChange:
    draft.edit_structured(versions.path, versions.text())
    plan = draft.plan()
    changed = any(not c.path.startswith(".fastscaffold/") for c in plan.writes)
    if not changed:
        return VersionChange(
            plan=Plan(draft.root, ()), summary=f"Nothing to change: {summary}", changed=False
        )
    if draft.edited and not draft.force and not dry_run:
        raise EditedFilesError(paths=draft.edited, action=action)
    if not dry_run:
        apply_plan(plan)
    return VersionChange(
        plan=plan,
        summary=summary,
        changed=True,
        manual_steps=tuple(draft.manual),
        dry_run=dry_run,
    )


def _renamed_contract(text: str, old: str, new: str) -> str:
    """Return ``old``'s contract as ``new``'s: the same operations under new paths and ids."""
    document = json.loads(text)
    document["paths"] = {
        path.replace(f"/api/{old}/", f"/api/{new}/", 1): item
        for path, item in document.get("paths", {}).items()
    }
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["operationId"] = re.sub(rf"^{old}_", f"{new}_", operation["operationId"])
    document.setdefault("info", {})["version"] = new
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def cut_version(
    root: Path, name: str | None = None, *, force: bool = False, dry_run: bool = False
) -> VersionChange:
    """Cut a new version from the latest one.

    Its edge package is a copy of the latest's, it is registered in
    versions.toml as the new latest (not released yet), and its contract is
    the latest's with its own paths and operation ids. Cutting an existing
    version changes nothing, and so does cutting without a name while the
    latest version is not released yet.

    Raises:
        PatternError: The project has no versioned API, or the name is not
            newer than every existing version.
        EditedFilesError: The new version's files would overwrite files of
            yours (not raised with ``dry_run`` or ``force``).
    """
    import tomlkit

    project, draft, versions = _open(root, force=force)
    existing = versions.names()
    if name is None and not versions.require(versions.latest).get("released", False):
        # Without a name, cutting again must not pile up versions nobody released.
        return VersionChange(
            plan=Plan(root, ()),
            summary=f"{versions.latest}, the latest version, is not released yet: nothing to do "
            f"(set released = true in {versions.path} when it ships, then cut the next one).",
            changed=False,
        )
    name = name or f"v{int(existing[-1][1:]) + 1}"
    if not _NAME.match(name):
        raise PatternError(f"Invalid version name {name!r}.", "Use v<number>, e.g. v3.")
    if name in existing:
        return VersionChange(
            plan=Plan(root, ()), summary=f"{name} already exists: nothing to do.", changed=False
        )
    if int(name[1:]) < int(existing[-1][1:]):
        raise PatternError(
            f"{name} is older than {existing[-1]}; a new version must be the newest.",
            f"Cut v{int(existing[-1][1:]) + 1}, or leave the name out.",
        )
    source = versions.latest
    source_dir = root / versions.api_dir / source
    if not source_dir.is_dir():
        raise UserError(
            f"The latest version's package {versions.api_dir}/{source} is missing.",
            f"Restore it, or set latest in {versions.path} to an existing version.",
        )
    for rel, staged in read_tree(source_dir).items():
        if "__pycache__" not in PurePosixPath(rel).parts:
            draft.put_pattern_file(f"{versions.api_dir}/{name}/{rel}", staged.content, PATTERN)
    contract = root / CONTRACTS_DIR / f"{source}.json"
    if contract.is_file():
        renamed = _renamed_contract(contract.read_text(encoding="utf-8"), source, name)
        draft.put_pattern_file(f"{CONTRACTS_DIR}/{name}.json", renamed.encode(), PATTERN)
    else:
        draft.manual.append(
            f"{CONTRACTS_DIR}/{source}.json is missing, so {name} has no contract yet: "
            f"run python -m {project.package} api-contract {name}"
        )
    entry = tomlkit.table()
    entry["status"] = "active"
    entry["released"] = False
    versions.table[name] = entry
    versions.document["latest"] = name
    summary = (
        f"Cut {name} from {source}: {versions.api_dir}/{name}/ is yours to change; "
        f"set released = true in {versions.path} when it ships."
    )
    return _finish(draft, versions, summary, dry_run=dry_run, action=f"Cutting {name}")


def deprecate_version(
    root: Path,
    name: str,
    *,
    sunset: date,
    link: str | None = None,
    since: date | None = None,
    dry_run: bool = False,
) -> VersionChange:
    """Mark a version deprecated: its responses carry Deprecation, Sunset and Link headers.

    Args:
        root: The project.
        name: The version, e.g. ``v1``.
        sunset: The day it stops answering (410 Gone from then on).
        link: Where clients read about migrating (e.g. the successor's docs).
        since: The deprecation date (default: the date it already has, else today).
        dry_run: Show the change; write nothing.

    Raises:
        PatternError: Unknown, latest or retired version, or dates out of order.
    """
    _, draft, versions = _open(root, force=False)
    entry = versions.require(name)
    versions.refuse_latest(name, "deprecate")
    if entry.get("status") == "retired":
        raise PatternError(f"{name} is retired already.", "Nothing to deprecate.")
    start = since or entry.get("deprecated_at") or datetime.now(UTC).date()
    if sunset < start:
        raise PatternError(
            f"The sunset date {sunset} is before the deprecation date {start}.",
            "Give a later --sunset (RFC 8594: Sunset cannot precede Deprecation).",
        )
    if link is not None and not re.match(r"^https?://\S+$", link):
        raise PatternError(f"Invalid --link {link!r}.", "Give an http(s) URL, e.g. the v2 docs.")
    entry["status"] = "deprecated"
    entry["deprecated_at"] = start
    entry["sunset_at"] = sunset
    if link is not None:
        entry["link"] = link
    summary = f"{name} is deprecated since {start}; it answers 410 Gone from {sunset} on."
    return _finish(draft, versions, summary, dry_run=dry_run, action=f"Deprecating {name}")


def retire_version(root: Path, name: str, *, dry_run: bool = False) -> VersionChange:
    """Retire a version: it answers 410 Gone, naming its successor.

    Raises:
        PatternError: Unknown version, or the latest one.
    """
    _, draft, versions = _open(root, force=False)
    entry = versions.require(name)
    versions.refuse_latest(name, "retire")
    entry["status"] = "retired"
    summary = f"{name} is retired: it answers 410 Gone and points clients to its successor."
    return _finish(draft, versions, summary, dry_run=dry_run, action=f"Retiring {name}")
