"""Managed blocks: a pattern's own section inside a user-owned text file.

`.env.example` and `README.md` belong to the user, but a pattern must
document its settings and itself there. Each pattern gets one block between
two exact marker lines; fastscaffold rewrites or deletes only what is between
them. If a marker was edited away, the file is left alone and the caller
reports the manual step: no guessing, no regular expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BlockStyle:
    """How the marker lines of one file type look (``{pattern}`` is filled in)."""

    start: str
    end: str

    def markers(self, pattern: str) -> tuple[str, str]:
        """Return the start and end marker lines of ``pattern``'s block."""
        return self.start.format(pattern=pattern), self.end.format(pattern=pattern)


ENV_STYLE = BlockStyle(
    start="# >>> fastscaffold: {pattern} (managed block: fastscaffold add/remove rewrite it)",
    end="# <<< fastscaffold: {pattern}",
)
MARKDOWN_STYLE = BlockStyle(
    start="<!-- >>> fastscaffold: {pattern} (managed block: add/remove rewrite it) -->",
    end="<!-- <<< fastscaffold: {pattern} -->",
)


def _bounds(lines: list[str], pattern: str, style: BlockStyle) -> tuple[int, int] | None:
    start, end = style.markers(pattern)
    if start not in lines:
        return None
    first = lines.index(start)
    if end not in lines[first:]:
        return None
    return first, first + lines[first:].index(end)


def set_block(text: str, pattern: str, body: Sequence[str], style: BlockStyle) -> str | None:
    """Return ``text`` with ``pattern``'s block holding ``body`` (added at the end, or replaced).

    Returns None when the start marker is there without its end marker.
    """
    start, end = style.markers(pattern)
    block = [start, *body, end]
    lines = text.splitlines()
    bounds = _bounds(lines, pattern, style)
    if bounds is None:
        if start in lines:
            return None
        while lines and not lines[-1].strip():
            lines.pop()
        lines = [*lines, "", *block] if lines else block
    else:
        lines[bounds[0] : bounds[1] + 1] = block
    return "\n".join(lines) + "\n"


def remove_block(text: str, pattern: str, style: BlockStyle) -> str | None:
    """Return ``text`` without ``pattern``'s block (unchanged when it has none).

    Returns None when the block's markers are not intact.
    """
    lines = text.splitlines()
    bounds = _bounds(lines, pattern, style)
    if bounds is None:
        return text if style.markers(pattern)[0] not in lines else None
    del lines[bounds[0] : bounds[1] + 1]
    if 0 < bounds[0] <= len(lines) and not lines[bounds[0] - 1].strip():
        del lines[bounds[0] - 1]  # the blank line set_block put before it
    return "\n".join(lines) + "\n" if lines else ""


class ManagedFile:
    """A user-owned text file whose pattern blocks one change rewrites.

    Attributes:
        path: The file, relative to the project.
        text: Its text with the changes so far (None when the file does not exist).
        problems: Manual steps for blocks that could not be changed safely.
    """

    def __init__(self, root: Path, path: str, style: BlockStyle) -> None:
        self.path = path
        self.style = style
        target = root / path
        self.text = target.read_text(encoding="utf-8") if target.is_file() else None
        self.problems: list[str] = []

    def set(self, pattern: str, body: Sequence[str]) -> None:
        """Add or replace ``pattern``'s block."""
        if self.text is None:
            self.problems.append(f"{self.path} is missing: the section of {pattern} was not added.")
            return
        updated = set_block(self.text, pattern, body, self.style)
        if updated is None:
            self.problems.append(
                f"{self.path}: the block of {pattern} lost its end marker; update it by hand."
            )
        else:
            self.text = updated

    def remove(self, pattern: str) -> None:
        """Delete ``pattern``'s block, if the file has one."""
        if self.text is None:
            return
        updated = remove_block(self.text, pattern, self.style)
        if updated is None:
            self.problems.append(f"{self.path}: remove the block of {pattern} by hand.")
        else:
            self.text = updated
