"""How each kind of file is merged: text, TOML, managed-block files and binary files.

Every command that changes a project ends in the same three-way merge per
file (base: fastscaffold's previous base, ours: the file on disk, theirs: the
new base); this module picks the merge that fits the file, so that no file
is ever merged in a way that breaks its format (no conflict markers in TOML,
no line merge across a managed block, no text merge of bytes).
"""

from __future__ import annotations

from collections.abc import MutableMapping, MutableSet
from dataclasses import dataclass
from enum import StrEnum

from fastscaffold.blocks import (
    ENV_STYLE,
    MARKDOWN_STYLE,
    BlockStyle,
    DamagedBlockError,
    merge_blocks,
)
from fastscaffold.merge import ConflictMode, merge3, reject_file
from fastscaffold.toml_merge import InvalidTomlError, merge_toml

# Root files whose pattern sections are managed blocks.
MANAGED_FILES: dict[str, BlockStyle] = {".env.example": ENV_STYLE, "README.md": MARKDOWN_STYLE}


class Kind(StrEnum):
    """The kinds of file, by how they merge."""

    TEXT = "text"
    TOML = "toml"
    MANAGED = "managed"
    BINARY = "binary"


def kind_of(path: str, *contents: bytes | None) -> Kind:
    """Return how ``path`` merges; any content that is not UTF-8 makes it binary."""
    for content in contents:
        if content is not None:
            try:
                content.decode("utf-8")
            except UnicodeDecodeError:
                return Kind.BINARY
    if path in MANAGED_FILES:
        return Kind.MANAGED
    if path.endswith(".toml"):
        return Kind.TOML
    return Kind.TEXT


class UnmergeableError(ValueError):
    """Raised when the user's file cannot be parsed for its merge (damaged markers, bad TOML)."""


@dataclass(frozen=True)
class FileMerge:
    """The outcome of merging one file.

    Attributes:
        content: What the file becomes (conflicting regions per the mode).
        conflicts: How many conflicting regions or keys there were.
        reject: The content of ``FILE.rej`` for what was not applied (None: nothing).
    """

    content: bytes
    conflicts: int = 0
    reject: bytes | None = None


def merge_file(
    path: str,
    base: bytes | None,
    ours: bytes,
    theirs: bytes,
    *,
    mode: ConflictMode,
    user_requirements: MutableMapping[str, MutableSet[str]] | None = None,
    trust_record: bool = False,
    prefer_theirs: bool = False,
) -> FileMerge:
    """Merge one file three ways, in the way its kind needs.

    ``prefer_theirs`` (``--force`` on add/remove) resolves TOML conflicts with
    the new base's values; other kinds report their conflicts as they are.

    Raises:
        UnmergeableError: ``ours`` has damaged managed-block markers or is not
            valid TOML; the message says what and where.
    """
    kind = kind_of(path, base, ours, theirs)
    if kind is Kind.BINARY:
        return _merge_binary(base, ours, theirs)
    old, mine, new = (base or b"").decode(), ours.decode(), theirs.decode()
    if kind is Kind.TOML:
        try:
            text, conflicts = merge_toml(
                old, mine, new, source=path, user_requirements=user_requirements,
                trust_record=trust_record, prefer_theirs=prefer_theirs,
            )  # fmt: skip
        except InvalidTomlError as exc:
            raise UnmergeableError(str(exc)) from None
        reject = None
        if conflicts and not prefer_theirs:
            lines = [
                f"# fastscaffold update could not apply these template changes to {path};",
                "# your values were kept. Apply what you want by hand, then delete this file.",
                *(f"#   {conflict.describe()}" for conflict in conflicts),
            ]
            reject = ("\n".join(lines) + "\n").encode()
        return FileMerge(text.encode(), len(conflicts), reject)
    if kind is Kind.MANAGED:
        try:
            text, rejected = merge_blocks(old, mine, new, MANAGED_FILES[path], mode=mode)
        except DamagedBlockError as exc:
            raise UnmergeableError(f"{path}: {exc}; repair its markers by hand") from None
        count = sum(len(r.conflicts) for r in rejected)
        reject = None
        if count and mode is ConflictMode.REJ:
            reject = "".join(
                reject_file(f"{path} ({r.where})" if r.where else path, r.base, r.conflicts)
                for r in rejected
            ).encode()
        return FileMerge(text.encode(), count, reject)
    result = merge3(old, mine, new, mode=mode)
    reject = None
    if result.conflicts and mode is ConflictMode.REJ:
        reject = reject_file(path, old, result.conflicts).encode()
    return FileMerge(result.text.encode(), len(result.conflicts), reject)


def _merge_binary(base: bytes | None, ours: bytes, theirs: bytes) -> FileMerge:
    if base == ours:
        return FileMerge(theirs)
    if base == theirs or ours == theirs:
        return FileMerge(ours)
    return FileMerge(ours, conflicts=1, reject=theirs)
