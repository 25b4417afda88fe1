"""Three-way merge of text files, line by line (what ``update`` uses).

base is what fastscaffold wrote last time, ours the file as the user has it
now, theirs what the newer templates produce. Regions where only one side
changed take that side; regions both changed the same way take it once;
regions both changed differently are conflicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

START = "<<<<<<< yours"
BASE = "||||||| base (what fastscaffold generated before)"
MIDDLE = "======="
END = ">>>>>>> new templates"


class ConflictMode(StrEnum):
    """What ``update`` does with a region both you and the templates changed."""

    INLINE = "inline"  # write the file with conflict markers
    REJ = "rej"  # keep your file; write the templates' change as FILE.rej
    FAIL = "fail"  # write nothing and fail (for CI)


@dataclass(frozen=True)
class MergeResult:
    """The merged text and how many conflicting regions it has (each marked in the text)."""

    text: str
    conflicts: int


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


def _with_newline(lines: list[str]) -> list[str]:
    # A last line without a newline would glue itself to the marker after it.
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines


def merge3(base: str, ours: str, theirs: str) -> MergeResult:
    """Merge ``ours`` and ``theirs``, both derived from ``base``.

    Conflicting regions are written between ``<<<<<<< yours``, the base
    (after ``|||||||``), ``=======`` and ``>>>>>>> new templates`` lines.
    """
    b, o, t = (text.splitlines(keepends=True) for text in (base, ours, theirs))
    out: list[str] = []
    conflicts = 0
    bi = oi = ti = 0
    for sb, so, st, size in _sync_points(b, o, t):
        base_part, our_part, their_part = b[bi:sb], o[oi:so], t[ti:st]
        if our_part == base_part:
            out += their_part
        elif their_part in (base_part, our_part):
            out += our_part
        else:
            conflicts += 1
            out += [f"{START}\n", *_with_newline(our_part), f"{BASE}\n"]
            out += [*_with_newline(base_part), f"{MIDDLE}\n", *_with_newline(their_part)]
            out.append(f"{END}\n")
        out += b[sb : sb + size]
        bi, oi, ti = sb + size, so + size, st + size
    return MergeResult(text="".join(out), conflicts=conflicts)


def has_conflict_markers(text: str) -> bool:
    """Return whether ``text`` still holds a conflict an update left in it."""
    lines = text.splitlines()
    return START in lines and END in lines
