"""What happens to one file when a session finishes: the ownership rules, in one place.

A session (fastscaffold.session) decides which files a command touches and
what their three sides are: *before* (the merge base), *ours* (the file on
disk) and *theirs* (the new blueprint). The rules here turn the sides into
what to write, what to record as the file's new base, and what to tell the
user, under the two policies:

* :func:`edit_file` (add, remove, api-version): an edited file the change
  must rewrite stops the change, unless ``force``; user-owned structured
  files are always merged;
* :func:`update_file` (update, check): every edited file gets a three-way
  merge by kind; overlaps follow the conflict mode.
"""

from __future__ import annotations

from collections.abc import MutableSet
from dataclasses import dataclass, field
from enum import StrEnum

from fastscaffold.blueprint import Blueprint
from fastscaffold.formats import FileMerge, Kind, UnmergeableError, kind_of, merge_file
from fastscaffold.merge import ConflictMode
from fastscaffold.record import RECORD_DIR, FileEntry, sha256_of

BACKUP_DIR = f"{RECORD_DIR}/backup"


class Outcome(StrEnum):
    """What happened to one file."""

    CREATED = "created"  # new in the blueprint
    UPDATED = "updated"  # unedited: took the new version
    MERGED = "merged"  # edited: the new version merged in cleanly
    CONFLICT = "conflict"  # edited where the templates changed too
    DELETED = "deleted"  # gone from the blueprint, and unedited
    KEPT = "kept"  # gone from the blueprint, but edited: left to you
    KEPT_DELETED = "kept-deleted"  # you deleted it: it stays deleted
    RENAMED = "renamed"  # moved by a migration, edits and all
    SKIPPED = "skipped"  # could not be merged (damaged markers, invalid TOML): see the manual step


class Policy(StrEnum):
    """How a session treats files the user edited: :func:`edit_file` or :func:`update_file`."""

    EDIT = "edit"
    UPDATE = "update"


@dataclass(frozen=True)
class Sides:
    """The three sides of one file.

    Attributes:
        path: The file, relative to the project.
        before: The merge base (None: the file did not exist there).
        ours: The file on disk (None: it does not exist).
        theirs: The new blueprint's content (None: the file goes).
    """

    path: str
    before: bytes | None
    ours: bytes | None
    theirs: bytes | None

    @property
    def kind(self) -> Kind:
        """Return how the file merges."""
        return kind_of(self.path, self.before, self.ours, self.theirs)

    def needs_structural_merge(self, owned: dict[str, MutableSet[str]]) -> bool:
        """Return whether a structured file must be merged although ours equals a side.

        pyproject.toml does while the user owns requirements: only the
        requirement merge sees a distribution the user typed just as a
        pattern would add it.
        """
        if self.kind not in {Kind.TOML, Kind.MANAGED} or self.ours is None or self.theirs is None:
            return False
        return self.ours != self.before or (self.path == "pyproject.toml" and any(owned.values()))


@dataclass
class Draft:
    """What a finishing session has decided so far.

    Attributes:
        new: The new blueprint (owners and origins of the files).
        owned: The user's requirements, by array; merges update it.
        trust_record: See :func:`fastscaffold.dependencies.merge_requirements`.
        files: What to write (None: delete), project files and side files.
        entries: New record entries (None: no longer tracked).
        bases: New base copies.
        outcomes: What happened to each file worth reporting.
        edited: Edited files in the way of the change.
        side: Files written beside the user's (``FILE.new``, ``FILE.rej``, backups).
        kept: Edited files whose unit went, left to the user.
        conflicts: Files left with conflicts.
        manual: What the user must do by hand.
    """

    new: Blueprint
    owned: dict[str, MutableSet[str]]
    trust_record: bool = False
    files: dict[str, bytes | None] = field(default_factory=dict)
    entries: dict[str, FileEntry | None] = field(default_factory=dict)
    bases: dict[str, bytes] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)

    def track(self, path: str, base: bytes | None) -> None:
        """Record ``base`` as the file's new base (None, or a file the blueprint lacks: untrack)."""
        if base is None or path not in self.new.files:
            self.entries[path] = None
            return
        self.entries[path] = FileEntry(
            sha256=sha256_of(base),
            unit=self.new.owners[path],
            origin="copy" if path in self.new.copies else "render",
        )
        self.bases[path] = base

    def write(self, path: str, content: bytes | None, base: bytes | None) -> None:
        """Write (None: delete) the file and record its new base."""
        self.files[path] = content
        self.track(path, base)

    def beside(self, path: str, content: bytes) -> None:
        """Write a side file next to the user's."""
        self.files[path] = content
        self.side.append(path)

    def back_up(self, path: str, content: bytes) -> None:
        """Keep the user's version under ``.fastscaffold/backup/``."""
        self.beside(f"{BACKUP_DIR}/{path}", content)

    def merge(
        self, sides: Sides, *, mode: ConflictMode, prefer_theirs: bool = False
    ) -> FileMerge | None:
        """Merge the file by kind; None (and a manual step) when ours cannot be parsed."""
        assert sides.ours is not None and sides.theirs is not None
        try:
            return merge_file(
                sides.path, sides.before, sides.ours, sides.theirs, mode=mode,
                user_requirements=self.owned, trust_record=self.trust_record,
                prefer_theirs=prefer_theirs,
            )  # fmt: skip
        except UnmergeableError as exc:
            self.manual.append(f"{exc}; then run the command again.")
            return None


def edit_file(
    draft: Draft, sides: Sides, *, rebased: bytes | None, tool_owned: bool, force: bool
) -> None:
    """Apply a change of state to one file (add, remove, api-version).

    ``rebased`` is the file's new base; ``tool_owned``: fastscaffold
    regenerates the file and users should not edit it.
    """
    path, before, ours, theirs = sides.path, sides.before, sides.ours, sides.theirs
    if sides.needs_structural_merge(draft.owned):
        _edit_structured(draft, sides, rebased, force=force)
    elif ours == theirs:
        draft.track(path, rebased)
    elif ours == before:
        draft.write(path, theirs, rebased)
    elif ours is None:
        if tool_owned:
            draft.write(path, theirs, rebased)  # fastscaffold's own file: written again
        else:
            if theirs is not None and sides.kind in {Kind.MANAGED, Kind.TOML}:
                draft.manual.append(
                    f"{path} is missing, so this change was not made there; restore it and "
                    "run the command again if you want it."
                )
            draft.track(path, rebased)  # you deleted it: it stays deleted
    elif theirs is None:
        _drop_edited(draft, path, ours, tool_owned=tool_owned, force=force)
    elif before is None:
        draft.edited.append(path)  # a file of the user's is in the way
        if force:
            # The user's file stays, as an edit of the template's version: that is
            # its base, so later updates merge into it instead of clashing with it.
            draft.beside(f"{path}.new", theirs)
            draft.track(path, rebased)
        else:
            draft.entries[path] = None
    else:
        draft.edited.append(path)  # an edited file the change must rewrite
        if force:
            draft.back_up(path, ours)
            draft.write(path, theirs, rebased)


def _edit_structured(draft: Draft, sides: Sides, rebased: bytes | None, *, force: bool) -> None:
    merged = draft.merge(sides, mode=ConflictMode.INLINE, prefer_theirs=force)
    if merged is None:
        return  # a manual step; the file and its base stay as they are
    if merged.conflicts and not force:
        draft.edited.append(sides.path)
        return
    if merged.conflicts:
        assert sides.ours is not None
        draft.back_up(sides.path, sides.ours)
    draft.write(sides.path, merged.content, rebased)


def _drop_edited(draft: Draft, path: str, ours: bytes, *, tool_owned: bool, force: bool) -> None:
    """Keep an edited file whose unit goes, or with ``force`` back it up and delete it."""
    draft.entries[path] = None
    if tool_owned:
        draft.edited.append(path)
    if force:
        draft.back_up(path, ours)
        draft.files[path] = None
    elif not tool_owned:
        draft.kept.append(path)
        draft.outcomes[path] = Outcome.KEPT


def update_file(draft: Draft, sides: Sides, *, conflict: ConflictMode) -> None:
    """Merge the new blueprint into one file (update); see docs/record.md for the table."""
    path, before, ours, theirs = sides.path, sides.before, sides.ours, sides.theirs
    if theirs is None:
        draft.entries[path] = None
        if ours is None or before is None:
            return
        if ours == before:
            draft.files[path] = None
            draft.outcomes[path] = Outcome.DELETED
        else:
            draft.kept.append(path)
            draft.outcomes[path] = Outcome.KEPT
    elif ours is None:
        if before is None:
            draft.write(path, theirs, theirs)
            draft.outcomes[path] = Outcome.CREATED
        else:
            if theirs != before:
                draft.outcomes[path] = Outcome.KEPT_DELETED
            draft.track(path, theirs)
    elif before == theirs:
        draft.track(path, theirs)  # the templates did not change it
    elif sides.kind is Kind.TOML and sides.needs_structural_merge(draft.owned):
        _update_merged(draft, sides, conflict)
    elif ours == theirs:
        draft.track(path, theirs)
    elif ours == before:
        draft.write(path, theirs, theirs)
        draft.outcomes[path] = Outcome.UPDATED
    else:
        _update_merged(draft, sides, conflict)


def _update_merged(draft: Draft, sides: Sides, conflict: ConflictMode) -> None:
    merged = draft.merge(sides, mode=conflict)
    if merged is None:
        draft.outcomes[sides.path] = Outcome.SKIPPED
        return
    if merged.conflicts:
        draft.conflicts.append(sides.path)
        draft.outcomes[sides.path] = Outcome.CONFLICT
        if merged.reject is not None:
            draft.beside(f"{sides.path}.rej", merged.reject)
    elif merged.content != sides.ours:
        draft.outcomes[sides.path] = Outcome.MERGED
    draft.write(sides.path, merged.content, sides.theirs)
