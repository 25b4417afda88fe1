"""Managed blocks: a pattern's own section inside a user-owned text file.

`.env.example` and `README.md` belong to the user, but each pattern
documents its settings and itself there, in one block between two exact
marker lines. The file fastscaffold's templates and state make of such a
file (its *base*) is the template's text followed by the blocks of the
applied patterns, in the canonical pattern order, each after a blank line.

Merging one of these files splits it into its text and its blocks. The text
is merged three ways like any text (lines both sides only added at one place
are kept, the templates' first), so the user's lines never conflict with a
block; blocks stay where the user has them (anchored to the line before
them), their bodies are merged three ways on their own, blocks of removed
patterns go, new ones are placed next to the blocks around them in the
canonical order, and a block the user deleted stays deleted. Markers are
recognised by exact lines, never by a regular expression; a damaged block is
never guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastscaffold.merge import Conflict, ConflictMode, merge3


@dataclass(frozen=True)
class BlockStyle:
    """How the marker lines of one file type look (``{pattern}`` is filled in)."""

    start: str
    end: str

    def markers(self, pattern: str) -> tuple[str, str]:
        """Return the start and end marker lines of ``pattern``'s block."""
        return self.start.format(pattern=pattern), self.end.format(pattern=pattern)

    def _name(self, line: str, marker: str) -> str | None:
        prefix, _, suffix = marker.partition("{pattern}")
        fits = len(line) > len(prefix) + len(suffix)
        if not (fits and line.startswith(prefix) and line.endswith(suffix)):
            return None
        name = line[len(prefix) : len(line) - len(suffix)]
        return name if " " not in name else None

    def start_name(self, line: str) -> str | None:
        """Return the pattern whose block ``line`` opens, if it is a start marker."""
        return self._name(line, self.start)

    def end_name(self, line: str) -> str | None:
        """Return the pattern whose block ``line`` closes, if it is an end marker."""
        return self._name(line, self.end)


ENV_STYLE = BlockStyle(
    start="# >>> fastscaffold: {pattern} (managed block: fastscaffold add/remove rewrite it)",
    end="# <<< fastscaffold: {pattern}",
)
MARKDOWN_STYLE = BlockStyle(
    start="<!-- >>> fastscaffold: {pattern} (managed block: add/remove rewrite it) -->",
    end="<!-- <<< fastscaffold: {pattern} -->",
)


@dataclass
class Block:
    """One managed block.

    Attributes:
        name: The pattern it belongs to.
        body: Its lines between the markers (without line ends).
        blank_before: Whether a blank line precedes it (it owns that line).
    """

    name: str
    body: list[str]
    blank_before: bool = True


@dataclass
class Layout:
    """A managed file split into its text and its blocks.

    Attributes:
        text: The lines outside every block (without line ends).
        anchors: The blocks after each text line, by that line's index (-1:
            before the first line), in file order.
        final_newline: Whether the file ended with a line end.
    """

    text: list[str]
    anchors: dict[int, list[Block]] = field(default_factory=dict)
    final_newline: bool = True

    def blocks(self) -> dict[str, Block]:
        """Return every block by pattern name."""
        return {b.name: b for index in sorted(self.anchors) for b in self.anchors[index]}

    def render(self, style: BlockStyle) -> str:
        """Return the file's text."""
        lines: list[str] = []
        for index in range(-1, len(self.text)):
            if index >= 0:
                lines.append(self.text[index])
            for block in self.anchors.get(index, []):
                start, end = style.markers(block.name)
                lines += [""] if block.blank_before else []
                lines += [start, *block.body, end]
        if not lines:
            return ""
        return "\n".join(lines) + ("\n" if self.final_newline else "")


class DamagedBlockError(ValueError):
    """Raised when a managed block's markers are not intact (one missing, or nested)."""


def parse(text: str, style: BlockStyle) -> Layout:
    """Split ``text`` into its lines and its blocks.

    Raises:
        DamagedBlockError: A start marker without its end (or the reverse), a
            block inside another, or two blocks of one pattern.
    """
    layout = Layout(text=[], final_newline=text.endswith("\n") or not text)
    current: Block | None = None
    seen: set[str] = set()
    for line in text.splitlines():
        if current is not None:
            if style.end_name(line) == current.name:
                anchor = len(layout.text) - 1
                layout.anchors.setdefault(anchor, []).append(current)
                current = None
            elif style.start_name(line) or style.end_name(line):
                raise DamagedBlockError(f"the block of {current.name} is not closed")
            else:
                current.body.append(line)
            continue
        name = style.start_name(line)
        if name is not None:
            if name in seen:
                raise DamagedBlockError(f"the block of {name} appears twice")
            seen.add(name)
            # The blank line right before a block is the block's (it goes with it);
            # after another block, the line is between them and belongs to neither text.
            follows_block = bool(layout.anchors.get(len(layout.text) - 1))
            blank = bool(layout.text) and not layout.text[-1].strip() and not follows_block
            if blank:
                layout.text.pop()
            current = Block(name=name, body=[], blank_before=blank)
        elif style.end_name(line) is not None:
            raise DamagedBlockError(f"the block of {style.end_name(line)} has no start marker")
        else:
            layout.text.append(line)
    if current is not None:
        raise DamagedBlockError(f"the block of {current.name} is not closed")
    return layout


def render_with_blocks(
    text: str, blocks: Sequence[tuple[str, list[str]]], style: BlockStyle
) -> str:
    """Return ``text`` followed by ``blocks`` (pattern, body lines), each after a blank line.

    This is the base of a managed file: what the templates and the applied
    patterns make of it.
    """
    if not blocks:
        return text
    layout = Layout(text=text.splitlines())
    layout.anchors[len(layout.text) - 1] = [
        Block(name, list(body), blank_before=bool(layout.text) or position > 0)
        for position, (name, body) in enumerate(blocks)
    ]
    return layout.render(style)


@dataclass(frozen=True)
class Rejected:
    """Conflicting regions of one part of a managed file, against that part's base.

    Attributes:
        where: ``""`` for the file's own text, else ``block of NAME``.
        base: The part's base text.
        conflicts: Its conflicting regions.
    """

    where: str
    base: str
    conflicts: tuple[Conflict, ...]


def _lines(text: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in text)


def merge_blocks(
    base: str, ours: str, theirs: str, style: BlockStyle, *, mode: ConflictMode
) -> tuple[str, list[Rejected]]:
    """Merge a managed file three ways (see the module docstring).

    Returns:
        The merged text, and the conflicting regions by part (empty when clean).

    Raises:
        DamagedBlockError: ``ours`` has damaged markers (``base`` and
            ``theirs`` are fastscaffold's, always intact).
    """
    old, mine, new = parse(base, style), parse(ours, style), parse(theirs, style)
    merged = merge3(
        _lines(old.text), _lines(mine.text), _lines(new.text), mode=mode, union_insertions=True
    )
    rejected = [Rejected("", _lines(old.text), merged.conflicts)] if merged.conflicts else []
    result = Layout(text=merged.text.splitlines(), final_newline=mine.final_newline)
    old_blocks, new_blocks = old.blocks(), new.blocks()
    for index in sorted(mine.anchors):
        anchor = _mapped(merged.ours_lines, index)
        for block in mine.anchors[index]:
            if block.name not in new_blocks:
                if block.name in old_blocks:
                    continue  # its pattern went: so does the block
                body = block.body  # never fastscaffold's: left as it is
            else:
                base_body = old_blocks[block.name].body if block.name in old_blocks else block.body
                merged_body = merge3(
                    _lines(base_body), _lines(block.body), _lines(new_blocks[block.name].body),
                    mode=mode, union_insertions=True,
                )  # fmt: skip
                if merged_body.conflicts:
                    where = f"block of {block.name}"
                    rejected.append(Rejected(where, _lines(base_body), merged_body.conflicts))
                body = merged_body.text.splitlines()
            result.anchors.setdefault(anchor, []).append(
                Block(block.name, body, block.blank_before)
            )
    placed = {
        block.name: (anchor, position)
        for anchor, group in result.anchors.items()
        for position, block in enumerate(group)
    }
    order = list(new_blocks)
    for name in order:
        # A block the base had and ours has not was deleted by the user: it stays deleted.
        if name not in placed and name not in old_blocks:
            _place(result, placed, order, new_blocks[name])
    return result.render(style), rejected


def _mapped(ours_lines: Sequence[int | None], index: int) -> int:
    """Return where ours' line ``index`` went in the merge, or the closest line before it."""
    while index >= 0:
        where = ours_lines[index] if index < len(ours_lines) else None
        if where is not None:
            return where
        index -= 1
    return -1


def _place(
    layout: Layout, placed: dict[str, tuple[int, int]], order: list[str], block: Block
) -> None:
    """Insert a new block next to its neighbours in the canonical order, else at the end."""
    index = order.index(block.name)
    before = [n for n in order[:index] if n in placed]
    after = [n for n in order[index + 1 :] if n in placed]
    if before:
        anchor, position = placed[before[-1]]
        position += 1
    elif after:
        anchor, position = placed[after[0]]
    else:
        anchor, position = len(layout.text) - 1, len(layout.anchors.get(len(layout.text) - 1, []))
    top = anchor == -1 and position == 0
    group = layout.anchors.setdefault(anchor, [])
    group.insert(position, Block(block.name, list(block.body), blank_before=not top))
    for offset, member in enumerate(group):
        placed[member.name] = (anchor, offset)
