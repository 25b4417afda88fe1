"""`fastscaffold api-version`: cutting, deprecating and retiring versions of a versioned API.

These work on projects with the `versioning` pattern, whose lifecycle lives
in ``<package>/api/versions.toml``. Each command is a change of the
project's state made through a :class:`~fastscaffold.session.Session`: the
lifecycle values it sets are recorded as an overlay of the versioning unit
(TOML set over the template's ``versions.toml``), and a cut version's files
are recorded as copies. ``update`` renders both again instead of reverting
them, and the values reach the user's ``versions.toml`` as a structural
merge, so the user's own edits there (``released = true``) stay. Running a
command twice changes nothing the second time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from fastscaffold.artefacts import is_artefact
from fastscaffold.errors import PatternError, UserError
from fastscaffold.plan import Plan
from fastscaffold.policies import Policy
from fastscaffold.session import Session

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
    """The project's versions.toml as the user has it, and the lifecycle overlay being recorded."""

    def __init__(self, session: Session) -> None:
        import tomlkit

        if PATTERN not in session.record.units:
            raise PatternError(
                "This project has no versioned API (the versioning pattern is not applied).",
                "Add it first: fastscaffold add versioning",
            )
        self.session = session
        self.path = f"{session.package}/api/versions.toml"
        self.api_dir = f"{session.package}/api"
        try:
            content = session.files.ours(self.path)
            if content is None:
                raise OSError("the file is missing")
            self.document = tomlkit.parse(content.decode("utf-8"))
            self.table: Any = self.document["versions"]
            self.latest = str(self.document["latest"])
        except (OSError, UnicodeDecodeError, KeyError, tomlkit.exceptions.TOMLKitError) as exc:
            raise UserError(
                f"Cannot read {self.path}: {exc}.",
                "Restore it from version control, or fix it by hand (see its comments).",
            ) from None
        recorded = session.state.units[PATTERN].overlays.get(self.path, "")
        self.overlay: Any = tomlkit.parse(recorded)

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

    def set(self, version: str | None, **values: Any) -> None:
        """Record lifecycle values: top-level ones, or those of ``version``'s table."""
        import tomlkit

        target = self.overlay
        if version is not None:
            if "versions" not in target:
                target["versions"] = tomlkit.table(is_super_table=True)
            if version not in target["versions"]:
                target["versions"][version] = tomlkit.table()
            target = target["versions"][version]
        for key, value in values.items():
            target[key] = value

    def finish(
        self, summary: str, *, dry_run: bool, action: str, force: bool = False
    ) -> VersionChange:
        import tomlkit

        self.session.set_overlay(PATTERN, self.path, tomlkit.dumps(self.overlay))
        result = self.session.finish(
            policy=Policy.EDIT, force=force, dry_run=dry_run, action=action
        )
        if not result.project_changes and not result.edited:
            return VersionChange(
                plan=Plan(self.session.root, ()),
                summary=f"Nothing to change: {summary}",
                changed=False,
            )
        return VersionChange(
            plan=result.plan,
            summary=summary,
            changed=True,
            manual_steps=result.manual_steps,
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
    session = Session(root)
    versions = _Versions(session)
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
    source_dir = f"{versions.api_dir}/{source}"
    files = {
        path: content
        for path in _files_below(root, source_dir)
        if (content := session.files.ours(path)) is not None
    }
    if not files:
        raise UserError(
            f"The latest version's package {source_dir} is missing.",
            f"Restore it, or set latest in {versions.path} to an existing version.",
        )
    for path, content in files.items():
        session.add_copy(
            f"{versions.api_dir}/{name}/{path[len(source_dir) + 1 :]}", content, PATTERN
        )
    contract = session.files.ours(f"{CONTRACTS_DIR}/{source}.json")
    manual = []
    if contract is not None:
        renamed = _renamed_contract(contract.decode("utf-8"), source, name)
        session.add_copy(f"{CONTRACTS_DIR}/{name}.json", renamed.encode(), PATTERN)
    else:
        manual.append(
            f"{CONTRACTS_DIR}/{source}.json is missing, so {name} has no contract yet: "
            f"run python -m {session.package} api-contract {name}"
        )
    versions.set(name, status="active", released=False)
    versions.set(None, latest=name)
    summary = (
        f"Cut {name} from {source}: {versions.api_dir}/{name}/ is yours to change; "
        f"set released = true in {versions.path} when it ships."
    )
    change = versions.finish(summary, dry_run=dry_run, action=f"Cutting {name}", force=force)
    return change if not manual else _with_steps(change, manual)


def _files_below(root: Path, folder: str) -> list[str]:
    """Return the project's files below ``folder`` (relative POSIX paths), artefacts left out."""
    base = root / PurePosixPath(folder)
    if not base.is_dir():
        return []
    return sorted(
        rel
        for path in base.rglob("*")
        if path.is_file() and not is_artefact(rel := path.relative_to(root).as_posix())
    )


def _with_steps(change: VersionChange, steps: list[str]) -> VersionChange:
    return replace(change, manual_steps=(*change.manual_steps, *steps))


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
    versions = _Versions(Session(root))
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
    values: dict[str, Any] = {"status": "deprecated", "deprecated_at": start, "sunset_at": sunset}
    if link is not None:
        values["link"] = link
    versions.set(name, **values)
    summary = f"{name} is deprecated since {start}; it answers 410 Gone from {sunset} on."
    return versions.finish(summary, dry_run=dry_run, action=f"Deprecating {name}")


def retire_version(root: Path, name: str, *, dry_run: bool = False) -> VersionChange:
    """Retire a version: it answers 410 Gone, naming its successor.

    Raises:
        PatternError: Unknown version, or the latest one.
    """
    versions = _Versions(Session(root))
    versions.require(name)
    versions.refuse_latest(name, "retire")
    versions.set(name, status="retired")
    summary = f"{name} is retired: it answers 410 Gone and points clients to its successor."
    return versions.finish(summary, dry_run=dry_run, action=f"Retiring {name}")
