"""A project's files as a session's merge sees them: on disk and as recorded, after migrations.

Each file the merge looks at has two sides on disk: the project's file
(*ours*) and its base copy under .fastscaffold/base/ (the merge base, for a
tracked file). ``update``'s migrations move files and rename settings before
the merge; they change neither side on disk, only this view of them, and the
session's plan writes the result once with everything else.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastscaffold.errors import UserError
from fastscaffold.record import FileEntry, base_path, sha256_of


class ProjectFiles:
    """Reads a project's files and base copies, with the migrations' changes laid over them.

    Args:
        root: The project folder.
        tracked: The recorded files (build artefacts left out); a migration
            that moves a file moves its entry too.

    Attributes:
        migrations: One note per migration that changed something.
        moved: The new paths of the files migrations moved.
        changed: The project files migrations changed (None: moved away).
        rebased: The base copies migrations changed (None: moved away).
    """

    def __init__(self, root: Path, tracked: dict[str, FileEntry]) -> None:
        self.root = root
        self.tracked = tracked
        self.migrations: list[str] = []
        self.moved: set[str] = set()
        self.changed: dict[str, bytes | None] = {}
        self.rebased: dict[str, bytes | None] = {}

    def read(self, path: str) -> bytes | None:
        """Return the bytes of ``path`` (relative to the project) as on disk, None if absent.

        Raises:
            UserError: The file exists but cannot be read.
        """
        target = self.root / PurePosixPath(path)
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError as exc:
            raise UserError(
                f"Cannot read {target}: {exc.strerror}.", "Check the file's permissions."
            ) from None

    def ours(self, path: str) -> bytes | None:
        """Return the project's file as the merge sees it (on disk, after migrations)."""
        if path in self.changed:
            return self.changed[path]
        return self.read(path)

    def base(self, path: str) -> bytes | None:
        """Return the recorded base of ``path`` (after migrations), None when untracked."""
        if path in self.rebased:
            return self.rebased[path]
        if path not in self.tracked:
            return None
        return self.read(base_path(path))

    def damaged_bases(self) -> list[str]:
        """Return the tracked files whose base copy is missing or does not match its hash."""
        damaged = []
        for path, entry in sorted(self.tracked.items()):
            content = self.base(path)
            if content is None or sha256_of(content) != entry.sha256:
                damaged.append(path)
        return damaged

    def rename_file(self, old: str, new: str, note: str) -> None:
        """Move a file and its base (a migration); nothing happens once it is done."""
        content = self.ours(old)
        if content is None or self.ours(new) is not None:
            return
        self.changed[new], self.changed[old] = content, None
        self.moved.add(new)
        if old in self.tracked:
            self.rebased[new], self.rebased[old] = self.base(old), None
            self.tracked[new] = self.tracked.pop(old)
        self.migrations.append(note)

    def rename_setting(self, old: str, new: str, files: tuple[str, ...], note: str) -> None:
        """Rename a setting in ``files`` and in their bases (a migration; idempotent)."""
        changed = False
        for path in files:
            for source, target in (
                (self.ours(path), self.changed),
                (self.base(path), self.rebased),
            ):
                text = _text(source)
                if text is None:
                    continue
                lines = text.splitlines(keepends=True)
                renamed = [_renamed_setting(line, old, new) for line in lines]
                if renamed != lines:
                    target[path] = "".join(renamed).encode("utf-8")
                    changed = changed or target is self.changed
        if changed:
            self.migrations.append(note)


def _text(content: bytes | None) -> str | None:
    if content is None:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _renamed_setting(line: str, old: str, new: str) -> str:
    for prefix in ("", "# ", "#"):
        if line.startswith(f"{prefix}{old}="):
            return f"{prefix}{new}={line[len(prefix) + len(old) + 1 :]}"
    return line
