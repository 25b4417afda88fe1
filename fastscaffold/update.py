"""`fastscaffold update` and `check`: newer templates merged into an edited project.

The project's own record supplies the merge base: ``.fastscaffold/base/``
holds what fastscaffold wrote last time. The installed templates are
rendered again with the recorded answers (the base project, then every
applied pattern, through the same code as ``new --with``) into staging:
that is *theirs*. The file on disk is *ours*. No git, tag, clean tree or
network is involved. Pattern migrations run first, on ours, so a renamed
file or setting lines up with the new templates before merging.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from fastscaffold.catalog import load_catalog
from fastscaffold.errors import PatternError, UserError
from fastscaffold.merge import ConflictMode, has_conflict_markers, merge3
from fastscaffold.plan import Plan, StagedFile, apply_plan, make_plan, read_tree
from fastscaffold.record import BASE_DIR, RECORD_DIR, Record, read_record

_BASE_PREFIX = f"{RECORD_DIR}/{BASE_DIR}/"
_ENV_FILES = (".env", ".env.example")


class Outcome(StrEnum):
    """What happened to one file."""

    UPDATED = "updated"  # unedited: took the new version
    MERGED = "merged"  # edited: the new version merged in cleanly
    CONFLICT = "conflict"  # edited where the templates changed too
    CREATED = "created"  # new in the templates
    DELETED = "deleted"  # gone from the templates, and unedited
    KEPT = "kept"  # gone from the templates, but edited: left to you
    KEPT_DELETED = "kept-deleted"  # you deleted it: it stays deleted
    RENAMED = "renamed"  # moved by a migration, edits and all


@dataclass(frozen=True)
class UpdateResult:
    """What ``update`` did (or, with ``dry_run``, would do).

    Attributes:
        plan: Every file written, changed or deleted.
        outcomes: What happened to each file that changed or needs attention.
        migrations: The migrations run, described.
        dry_run: True when nothing was written.
    """

    plan: Plan
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    migrations: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def conflicts(self) -> list[str]:
        """Return the files with conflicts."""
        return [p for p, o in self.outcomes.items() if o is Outcome.CONFLICT]

    @property
    def changed(self) -> bool:
        """Return whether the project is (or was) behind the installed templates."""
        return any(not c.path.startswith(f"{RECORD_DIR}/") for c in self.plan.writes) or bool(
            self.outcomes
        )


class UpdateConflictError(UserError):
    """Raised by ``--conflict fail`` when edits overlap the templates' changes."""

    def __init__(self, *, paths: list[str]) -> None:
        listed = "\n".join(f"  {p}" for p in paths)
        super().__init__(
            f"Your edits overlap the new templates in {len(paths)} file(s); "
            f"nothing was written:\n{listed}",
            "Run `fastscaffold update --dry-run` to see the merge, then update with "
            "--conflict inline (markers) or --conflict rej (FILE.rej) and resolve them.",
        )
        self.paths = paths


@contextmanager
def _rendered(record: Record) -> Iterator[Path]:
    """Render the project the installed templates make from the recorded answers."""
    from fastscaffold.creation import render_project
    from fastscaffold.patterns import add_patterns

    with tempfile.TemporaryDirectory(prefix="fastscaffold-update-") as tmp:
        staging = Path(tmp) / "project"
        render_project(staging, dict(record.units["project"].answers), interactive=False)
        applied = record.patterns()
        if applied:
            catalog = load_catalog()
            gone = [name for name in applied if name not in catalog]
            if gone:
                raise PatternError(
                    f"The installed fastscaffold no longer ships {', '.join(gone)}.",
                    f"Remove it first (fastscaffold remove {' '.join(gone)}), "
                    "or install the fastscaffold version that made the project.",
                )
            answers = {name: record.units[name].answers for name in applied}
            add_patterns(staging, applied, answers=answers)
        yield staging


def _text(content: bytes | None) -> str | None:
    if content is None:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Ours:
    """The project's files as the merge sees them: on disk, after migrations."""

    def __init__(self, root: Path, record: Record) -> None:
        self.root = root
        self.record = record
        self.moved: dict[str, bytes | None] = {}  # overrides of what is on disk
        self.base_moved: dict[str, str] = {}  # new path -> old path of base copies
        self.migrations: list[str] = []

    def get(self, path: str) -> bytes | None:
        if path in self.moved:
            return self.moved[path]
        target = self.root / PurePosixPath(path)
        return target.read_bytes() if target.is_file() else None

    def base(self, path: str) -> bytes | None:
        source = self.base_moved.get(path, path)
        if source not in self.record.files:
            return None
        copy = self.root / PurePosixPath(_BASE_PREFIX + source)
        return copy.read_bytes() if copy.is_file() else None

    def rename_file(self, old: str, new: str, pattern: str) -> None:
        content = self.get(old)
        if content is None or self.get(new) is not None:
            return  # done already (idempotent), or nothing to move
        self.moved[new], self.moved[old] = content, None
        self.base_moved[new] = old
        self.migrations.append(f"{pattern}: moved {old} to {new}")

    def rename_setting(self, old: str, new: str, pattern: str) -> None:
        for path in _ENV_FILES:
            text = _text(self.get(path))
            if text is None:
                continue
            lines = text.splitlines(keepends=True)
            renamed = [_renamed_setting(line, old, new) for line in lines]
            if renamed != lines:
                self.moved[path] = "".join(renamed).encode("utf-8")
                self.migrations.append(f"{pattern}: renamed {old} to {new} in {path}")


def _renamed_setting(line: str, old: str, new: str) -> str:
    for prefix in ("", "# ", "#"):
        if line.startswith(f"{prefix}{old}="):
            return f"{prefix}{new}={line[len(prefix) + len(old) + 1 :]}"
    return line


def _run_migrations(ours: _Ours, record: Record) -> None:
    if not record.patterns():
        return
    from jinja2 import Environment, StrictUndefined

    catalog = load_catalog()
    env = Environment(undefined=StrictUndefined)
    answers = record.units["project"].answers
    for name in record.patterns():
        pattern = catalog.get(name)
        if pattern is None:
            continue
        for migration in pattern.manifest.migrations_since(record.units[name].version):
            if migration.rename_file is not None:
                old = env.from_string(migration.rename_file.old).render(**answers)
                new = env.from_string(migration.rename_file.new).render(**answers)
                ours.rename_file(old, new, name)
            elif migration.rename_setting is not None:
                ours.rename_setting(
                    migration.rename_setting.old, migration.rename_setting.new, name
                )


def _rej(path: str, base: str, theirs: str) -> bytes:
    diff = difflib.unified_diff(
        base.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
        fromfile=f"a/{path} (generated before)",
        tofile=f"b/{path} (new templates)",
    )
    return "".join(diff).encode("utf-8")


def update_project(
    root: Path, *, conflict: ConflictMode = ConflictMode.INLINE, dry_run: bool = False
) -> UpdateResult:
    """Bring the project at ``root`` up to the installed templates, keeping the user's edits.

    Files the user did not touch take the new version; edited files get a
    three-way merge; overlaps are handled as ``conflict`` says. Files the new
    templates no longer produce are deleted when unedited and kept (listed)
    when edited. The record is rewritten, so a second update changes nothing.

    Raises:
        UpdateConflictError: ``conflict`` is FAIL and edits overlap (nothing written).
        PatternError: An applied pattern is no longer shipped.
    """
    record = read_record(root)
    ours = _Ours(root, record)
    _run_migrations(ours, record)
    with _rendered(record) as staging:
        theirs_tree = {p: f.content for p, f in read_tree(staging).items()}
    new_record_files = {p: c for p, c in theirs_tree.items() if p.startswith(f"{RECORD_DIR}/")}
    theirs = {p: c for p, c in theirs_tree.items() if not p.startswith(f"{RECORD_DIR}/")}
    writes: dict[str, bytes] = dict(new_record_files)
    deletions = {p for p, c in ours.moved.items() if c is None}
    writes.update({p: c for p, c in ours.moved.items() if c is not None})
    outcomes: dict[str, Outcome] = dict.fromkeys(ours.base_moved, Outcome.RENAMED)
    tracked = set(record.files) - set(ours.base_moved.values()) | set(ours.base_moved)
    for path in sorted(tracked | set(theirs)):
        outcome = _merge_one(path, ours, theirs.get(path), conflict, writes, deletions)
        if outcome is not None:
            outcomes[path] = outcome
    # Base copies of files the record no longer tracks go with it.
    for path in record.files:
        if _BASE_PREFIX + path not in new_record_files:
            deletions.add(_BASE_PREFIX + path)
    conflicts = [p for p, o in outcomes.items() if o is Outcome.CONFLICT]
    if conflicts and conflict is ConflictMode.FAIL:
        raise UpdateConflictError(paths=conflicts)
    plan = make_plan(root, {p: StagedFile(c) for p, c in writes.items()}, deletions - set(writes))
    if not dry_run:
        apply_plan(plan)
    return UpdateResult(
        plan=plan, outcomes=outcomes, migrations=tuple(ours.migrations), dry_run=dry_run
    )


def _merge_one(
    path: str,
    ours: _Ours,
    theirs: bytes | None,
    mode: ConflictMode,
    writes: dict[str, bytes],
    deletions: set[str],
) -> Outcome | None:
    """Decide one file; record what to write or delete. Returns None when nothing happens."""
    mine, base = ours.get(path), ours.base(path)
    if theirs is None:
        if mine is None or base is None:
            return None
        if mine == base:
            deletions.add(path)
            return Outcome.DELETED
        return Outcome.KEPT
    if mine is None:
        if base is None:
            writes[path] = theirs
            return Outcome.CREATED
        return Outcome.KEPT_DELETED if theirs != base else None
    if mine == theirs:
        return None
    if base is not None and mine == base:
        writes[path] = theirs
        return Outcome.UPDATED
    base_text, my_text, their_text = _text(base or b""), _text(mine), _text(theirs)
    if base_text is None or my_text is None or their_text is None:
        return _conflict(path, theirs, "", mode, writes, merged=None)
    result = merge3(base_text, my_text, their_text)
    if result.conflicts == 0:
        if result.text.encode("utf-8") != mine:
            writes[path] = result.text.encode("utf-8")
            return Outcome.MERGED
        return None
    return _conflict(path, theirs, base_text, mode, writes, merged=result.text)


def _conflict(
    path: str,
    theirs: bytes,
    base_text: str,
    mode: ConflictMode,
    writes: dict[str, bytes],
    *,
    merged: str | None,
) -> Outcome:
    if mode is ConflictMode.INLINE and merged is not None:
        writes[path] = merged.encode("utf-8")
    elif mode is not ConflictMode.FAIL:
        their_text = _text(theirs)
        writes[f"{path}.rej"] = (
            _rej(path, base_text, their_text) if their_text is not None else theirs
        )
    return Outcome.CONFLICT


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found.

    Attributes:
        behind: Files ``update`` would change, with what would happen to each.
        markers: Files that still hold conflict markers.
        rejects: Leftover ``.rej`` files.
    """

    behind: Mapping[str, str]
    markers: tuple[str, ...]
    rejects: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Return whether the project is up to date and has nothing left to resolve."""
        return not (self.behind or self.markers or self.rejects)


def check_project(root: Path) -> CheckReport:
    """Report whether the project is behind the installed templates or has unresolved merges.

    Only files fastscaffold tracks can hold markers or ``.rej`` siblings from
    an update, so only those are read: a large data folder costs nothing.
    """
    result = update_project(root, dry_run=True)
    behind = {path: outcome.value for path, outcome in result.outcomes.items()}
    for change in result.plan.writes:
        if not change.path.startswith(f"{RECORD_DIR}/") and change.path not in behind:
            behind[change.path] = change.action.value
    markers, rejects = [], []
    for path in sorted(read_record(root).files):
        target = root / PurePosixPath(path)
        if target.is_file() and has_conflict_markers(
            target.read_text(encoding="utf-8", errors="replace")
        ):
            markers.append(path)
        if (root / PurePosixPath(f"{path}.rej")).is_file():
            rejects.append(f"{path}.rej")
    return CheckReport(
        behind=dict(sorted(behind.items())), markers=tuple(markers), rejects=tuple(rejects)
    )
