"""Three-way merge of text, line by line.

base is what fastscaffold's templates made of a file last time, ours the
file as the user has it now, theirs what the templates make of it now.
Regions where only one side changed take that side; regions both changed the
same way take it once; regions both changed differently are conflicts. A
conflict is written between markers (``inline``) or left as the user had it
and returned as a hunk for a ``FILE.rej`` (``rej``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import StrEnum

START = "<<<<<<< yours"
BASE = "||||||| base (what fastscaffold generated before)"
MIDDLE = "======="
END = ">>>>>>> new templates"
_CONTEXT = 3


class ConflictMode(StrEnum):
    """What ``update`` does with a region both you and the templates changed."""

    INLINE = "inline"  # write the file with conflict markers
    REJ = "rej"  # keep your side of the region; write the templates' change as FILE.rej
    FAIL = "fail"  # write nothing and fail (for CI)


@dataclass(frozen=True)
class Conflict:
    """One region both sides changed differently.

    Attributes:
        base_start: Index of the region's first line in base.
        base: The region in base. ``ours`` and ``theirs``: the region on each side.
    """

    base_start: int
    base: tuple[str, ...]
    ours: tuple[str, ...]
    theirs: tuple[str, ...]


@dataclass(frozen=True)
class MergeResult:
    """The merged text and what the merge found.

    Attributes:
        text: The merged text (with markers, or with ours' side, per the mode).
        conflicts: The conflicting regions, in order.
        ours_lines: For each line of ours, its index in the merged text, or
            None where the merge dropped it; lets a caller keep things it had
            anchored to lines of ours (managed blocks) in place.
    """

    text: str
    conflicts: tuple[Conflict, ...] = ()
    ours_lines: tuple[int | None, ...] = field(default=(), repr=False)


def _matches(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return [(m.a, m.b, m.size) for m in matcher.get_matching_blocks() if m.size]


def _sync_points(
    base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]
) -> list[tuple[int, int, int, int]]:
    """Return the runs of base lines unchanged on both sides, as (base, ours, theirs, size)."""
    with_ours = _matches(base, ours)
    with_theirs = _matches(base, theirs)
    points = []
    i = j = 0
    while i < len(with_ours) and j < len(with_theirs):
        ob, oo, osize = with_ours[i]
        tb, tt, tsize = with_theirs[j]
        low, high = max(ob, tb), min(ob + osize, tb + tsize)
        if low < high:
            points.append((low, oo + low - ob, tt + low - tb, high - low))
        if ob + osize < tb + tsize:
            i += 1
        else:
            j += 1
    points.append((len(base), len(ours), len(theirs), 0))
    return points


def _appends_to(side: Sequence[str], base_part: Sequence[str]) -> bool:
    """Return whether ``side`` is ``base_part`` unchanged with lines added after it."""
    return bool(base_part) and len(side) > len(base_part) and side[: len(base_part)] == base_part


def _with_newline(lines: Sequence[str]) -> list[str]:
    # A last line without a newline would glue itself to the marker after it.
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return list(lines)


def merge3(
    base: str,
    ours: str,
    theirs: str,
    *,
    mode: ConflictMode = ConflictMode.INLINE,
    union_insertions: bool = False,
) -> MergeResult:
    """Merge ``ours`` and ``theirs``, both derived from ``base``.

    With ``inline`` (and ``fail``, which writes nothing anyway), conflicting
    regions are written between ``<<<<<<< yours``, the base (after
    ``|||||||``), ``=======`` and ``>>>>>>> new templates`` lines; with
    ``rej`` they keep ours' side, and :func:`reject_file` describes them.

    With ``union_insertions``, lines both sides only inserted at the same
    place are not a conflict: theirs come first, then ours. That suits
    documents read in any order (``.env.example``, a README), where both
    sides appending at the end is the common case and nothing can be lost.
    Likewise a region one side rewrote while the other kept it and only added
    lines after it: the rewrite, then the addition.
    """
    b, o, t = (text.splitlines(keepends=True) for text in (base, ours, theirs))
    out: list[str] = []
    ours_lines: list[int | None] = [None] * len(o)
    conflicts: list[Conflict] = []
    bi = oi = ti = 0

    def keep_ours(start: int, lines: Sequence[str]) -> None:
        for k, line in enumerate(lines):
            ours_lines[start + k] = len(out)
            out.append(line)

    for sb, so, st, size in _sync_points(b, o, t):
        base_part, our_part, their_part = b[bi:sb], o[oi:so], t[ti:st]
        if our_part == base_part:
            out.extend(their_part)
        elif their_part in (base_part, our_part):
            keep_ours(oi, our_part)
        elif union_insertions and not base_part:
            out.extend(their_part)
            keep_ours(oi, our_part)
        elif union_insertions and _appends_to(our_part, base_part):
            # Ours kept the region and added after it (a note at the end of a
            # README); theirs rewrote it: the rewrite, then ours' addition.
            out.extend(their_part)
            keep_ours(oi + len(base_part), our_part[len(base_part) :])
        elif union_insertions and _appends_to(their_part, base_part):
            keep_ours(oi, our_part)
            out.extend(their_part[len(base_part) :])
        else:
            conflicts.append(Conflict(bi, tuple(base_part), tuple(our_part), tuple(their_part)))
            if mode is ConflictMode.REJ:
                keep_ours(oi, our_part)
            else:
                out.append(f"{START}\n")
                keep_ours(oi, _with_newline(our_part))
                out += [f"{BASE}\n", *_with_newline(base_part), f"{MIDDLE}\n"]
                out += [*_with_newline(their_part), f"{END}\n"]
        keep_ours(so, o[so : so + size])
        bi, oi, ti = sb + size, so + size, st + size
    return MergeResult(text="".join(out), conflicts=tuple(conflicts), ours_lines=tuple(ours_lines))


def reject_file(path: str, base: str, conflicts: Sequence[Conflict]) -> str:
    """Return a ``FILE.rej``: the templates' changes that were not applied, as unified hunks.

    Each hunk turns base into theirs over one conflicting region, with up to
    three lines of base around it, so it reads (and applies) like the hunk
    ``patch`` would have rejected.
    """
    lines = base.splitlines(keepends=True)
    out = [f"--- a/{path} (generated before)\n", f"+++ b/{path} (new templates)\n"]
    for conflict in conflicts:
        start = max(0, conflict.base_start - _CONTEXT)
        end = min(len(lines), conflict.base_start + len(conflict.base) + _CONTEXT)
        before = lines[start : conflict.base_start]
        after = lines[conflict.base_start + len(conflict.base) : end]
        old = len(before) + len(conflict.base) + len(after)
        new = len(before) + len(conflict.theirs) + len(after)
        out.append(f"@@ -{start + 1},{old} +{start + 1},{new} @@\n")
        out += [f" {line}" for line in _with_newline(before)]
        out += [f"-{line}" for line in _with_newline(conflict.base)]
        out += [f"+{line}" for line in _with_newline(conflict.theirs)]
        out += [f" {line}" for line in _with_newline(after)]
    return "".join(out)


def unified_diff(path: str, before: str, after: str) -> str:
    """Return the unified diff from ``before`` to ``after`` (used in .rej of structured files)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path} (generated before)",
            tofile=f"b/{path} (new templates)",
        )
    )


def has_conflict_markers(text: str) -> bool:
    """Return whether ``text`` still holds a conflict an update left in it."""
    lines = text.splitlines()
    return START in lines and END in lines
