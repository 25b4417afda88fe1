"""Plans of file operations: computed before anything is written, then applied atomically.

Every command that writes into a project renders into a staging folder first,
turns the result into a :class:`Plan` (what would be created or changed, with
the old and new content), shows or checks it, and only then applies it. A
plan is applied as a transaction: each file is replaced atomically
(write a temporary file beside it, then ``os.replace``), and if anything
fails, or the user presses Ctrl-C, the files already written are restored.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from fastscaffold.errors import FileSystemError


class Action(StrEnum):
    """What applying a plan does to one file."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class FileChange:
    """One file of a plan.

    Attributes:
        path: Path relative to the plan's root, with forward slashes.
        action: What applying the plan does to it.
        new: The content it will have (empty for a deletion).
        old: The content it has now (None when it does not exist).
        executable: Whether the new file gets the executable bits.
    """

    path: str
    action: Action
    new: bytes
    old: bytes | None = None
    executable: bool = False

    def diff(self) -> str:
        """Return a unified diff from the current to the planned content."""
        if self.action is Action.UNCHANGED:
            return ""
        before = _text_lines(self.old or b"")
        after = _text_lines(self.new)
        if before is None or after is None:
            return f"Binary file {self.path} differs\n"
        fromfile = "/dev/null" if self.old is None else f"a/{self.path}"
        tofile = "/dev/null" if self.action is Action.DELETE else f"b/{self.path}"
        return "".join(difflib.unified_diff(before, after, fromfile=fromfile, tofile=tofile))


@dataclass(frozen=True)
class Plan:
    """The file operations one command would perform below ``root``."""

    root: Path
    changes: tuple[FileChange, ...]

    def of(self, action: Action) -> list[FileChange]:
        """Return the changes with the given action, in path order."""
        return [c for c in self.changes if c.action is action]

    @property
    def writes(self) -> list[FileChange]:
        """Return the changes that write something (creations and updates)."""
        return [c for c in self.changes if c.action is not Action.UNCHANGED]

    def diff(self) -> str:
        """Return the unified diff of every change, for ``--dry-run``."""
        return "".join(c.diff() for c in self.writes)


@dataclass(frozen=True)
class StagedFile:
    """A file to place into a project: its content and whether it is executable."""

    content: bytes
    executable: bool = False


def _text_lines(content: bytes) -> list[str] | None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def make_plan(root: Path, files: Mapping[str, StagedFile], deletions: Iterable[str] = ()) -> Plan:
    """Compare ``files`` with what is on disk below ``root`` and return the plan.

    Paths in ``deletions`` that exist are deleted (listed after the writes).
    """
    changes = []
    for rel in sorted(files):
        staged = files[rel]
        target = root / PurePosixPath(rel)
        old = target.read_bytes() if target.is_file() else None
        if old is None:
            action = Action.CREATE
        elif old == staged.content:
            action = Action.UNCHANGED
        else:
            action = Action.UPDATE
        changes.append(
            FileChange(
                path=rel, action=action, new=staged.content, old=old, executable=staged.executable
            )
        )
    for rel in sorted(set(deletions) - set(files)):
        target = root / PurePosixPath(rel)
        if target.is_file():
            changes.append(
                FileChange(path=rel, action=Action.DELETE, new=b"", old=target.read_bytes())
            )
    return Plan(root=root, changes=tuple(changes))


def atomic_write(path: Path, content: bytes, *, executable: bool = False) -> None:
    """Replace ``path`` with ``content`` atomically: readers see the old or the new file.

    A file that exists keeps its permission bits (the user's choice); a new
    one gets 0o755 when ``executable``, else 0o644.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o755 if executable else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _missing_parents(root: Path, paths: Iterable[str]) -> list[Path]:
    """Return the folders a plan will create, deepest first, so rollback can remove them."""
    missing: set[Path] = set()
    for rel in paths:
        parent = (root / PurePosixPath(rel)).parent
        while parent != root and not parent.exists():
            missing.add(parent)
            parent = parent.parent
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def apply_plan(plan: Plan) -> None:
    """Write every creation, update and deletion of ``plan``, all or nothing.

    On any failure, Ctrl-C included, files already written get their old
    content back, created files and folders are removed, deleted files come
    back, and the error is raised again. Folders a deletion leaves empty are
    removed.
    """
    writes = plan.writes
    _refuse_read_only(plan)
    new_dirs = _missing_parents(plan.root, (c.path for c in writes))
    done: list[FileChange] = []
    current: FileChange | None = None
    try:
        for change in writes:
            current = change
            target = plan.root / PurePosixPath(change.path)
            if change.action is Action.DELETE:
                target.unlink()
            else:
                atomic_write(target, change.new, executable=change.executable)
            done.append(change)
    except BaseException as exc:
        _roll_back(plan.root, done, new_dirs)
        if isinstance(exc, OSError) and current is not None:
            action = "delete" if current.action is Action.DELETE else "write"
            raise FileSystemError(
                path=plan.root / PurePosixPath(current.path),
                action=action,
                reason=exc.strerror or str(exc),
            ) from None
        raise
    for change in plan.of(Action.DELETE):
        _remove_empty_parents(plan.root, plan.root / PurePosixPath(change.path))


def _refuse_read_only(plan: Plan) -> None:
    """Refuse to replace or delete a file its owner made read-only (root could, silently).

    Raises:
        FileSystemError: A file the plan changes has no write permission for its owner.
    """
    for change in plan.writes:
        if change.action in (Action.UPDATE, Action.DELETE):
            target = plan.root / PurePosixPath(change.path)
            with contextlib.suppress(FileNotFoundError):
                if not target.stat().st_mode & stat.S_IWUSR:
                    action = "delete" if change.action is Action.DELETE else "write"
                    raise FileSystemError(path=target, action=action, reason="it is read-only")


def _remove_empty_parents(root: Path, path: Path) -> None:
    folder = path.parent
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _roll_back(root: Path, done: list[FileChange], new_dirs: list[Path]) -> None:
    # Best effort, file by file: one file that cannot be put back must not stop the others.
    for change in reversed(done):
        target = root / PurePosixPath(change.path)
        with contextlib.suppress(OSError):
            if change.action is Action.DELETE:
                atomic_write(target, change.old or b"")
            elif change.old is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, change.old, executable=change.executable)
    for folder in new_dirs:
        # Not empty or already gone: leave it rather than lose anything.
        with contextlib.suppress(OSError):
            folder.rmdir()
