"""A draft of a change to a project: the files it wants, checked against the record.

``add`` and ``remove`` describe what the project should become through a
:class:`Draft`; each method applies one ownership rule (a pattern's new
file, a regenerated tool-owned file, a structured edit of a user file, a
file to delete), so the rules live in one place. The draft then becomes one
:class:`~fastscaffold.plan.Plan`, applied atomically.
"""

from __future__ import annotations

import copy
from pathlib import Path, PurePosixPath

from fastscaffold._version import __version__
from fastscaffold.plan import Plan, StagedFile, make_plan
from fastscaffold.record import BASE_DIR, RECORD_DIR, Record, record_files

BACKUP_DIR = f"{RECORD_DIR}/backup"


class Draft:
    """The files a change wants, checked against the record as they are added."""

    def __init__(self, root: Path, record: Record, *, force: bool) -> None:
        self.root = root
        self.old = record
        self.record = copy.deepcopy(record)
        self.force = force
        self.files: dict[str, bytes] = {}
        self.deletions: set[str] = set()
        self.base: dict[str, bytes] = {}
        self.edited: list[str] = []
        self.side: list[str] = []
        self.kept: list[str] = []
        self.manual: list[str] = []

    def current(self, path: str) -> bytes | None:
        """Return the file's content on disk now (None when it does not exist)."""
        target = self.root / PurePosixPath(path)
        return target.read_bytes() if target.is_file() else None

    def _track(self, path: str, content: bytes, unit: str) -> None:
        self.record.track({path: content}, unit=unit)
        self.base[path] = content

    def _untrack(self, path: str) -> None:
        self.record.files.pop(path, None)
        self.base.pop(path, None)

    def _back_up(self, path: str, content: bytes) -> None:
        backup = f"{BACKUP_DIR}/{path}"
        self.files[backup] = content
        self.side.append(backup)

    def put_pattern_file(self, path: str, content: bytes, unit: str) -> None:
        """A file a pattern adds: a different file already there is the user's."""
        current = self.current(path)
        if current is None or current == content:
            self.files[path] = content
            self._track(path, content, unit)
            return
        self.edited.append(path)
        if self.force:
            self.files[f"{path}.new"] = content
            self.side.append(f"{path}.new")

    def put_tool_file(self, path: str, content: bytes) -> None:
        """A regenerated, tool-owned file: rewritten unless the user edited it."""
        current = self.current(path)
        if current != content:
            if current is not None and not self.old.is_unedited(path, current):
                self.edited.append(path)
                if not self.force:
                    return
                self._back_up(path, current)
            self.files[path] = content
        self._track(path, content, "project")

    def drop_file(self, path: str, *, tool_owned: bool) -> None:
        """A file that must go: deleted when unedited; an edited one is kept or backed up.

        An edited pattern file is kept (it is the user's now) unless ``force``;
        an edited tool-owned file blocks the change unless ``force``.
        """
        current = self.current(path)
        if current is None or self.old.is_unedited(path, current):
            if current is not None:
                self.deletions.add(path)
        elif tool_owned and not self.force:
            self.edited.append(path)
            return
        elif self.force:
            if tool_owned:
                self.edited.append(path)
            self._back_up(path, current)
            self.deletions.add(path)
        else:
            self.kept.append(path)
        self._untrack(path)
        self.deletions.add(f"{RECORD_DIR}/{BASE_DIR}/{path}")

    def edit_structured(self, path: str, text: str) -> None:
        """A structured edit of a user-owned file (pyproject.toml, .env.example)."""
        current = self.current(path)
        content = text.encode("utf-8")
        if current == content:
            return
        self.files[path] = content
        entry = self.old.files.get(path)
        if entry is not None and self.old.is_unedited(path, current):
            # Still as generated: keep it recognised as fastscaffold's content.
            self._track(path, content, entry.unit)

    def plan(self) -> Plan:
        """Return the plan: every wanted file, the record and base copies, the deletions."""
        self.record.generator_version = __version__
        files = dict(self.files)
        files.update(record_files(self.record, self.base))
        return make_plan(
            self.root, {p: StagedFile(c) for p, c in files.items()}, self.deletions - set(files)
        )
