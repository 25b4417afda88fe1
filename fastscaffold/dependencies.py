"""Requirement arrays in pyproject.toml: added by patterns, merged as sets, never text-merged.

A requirement array (``[project] dependencies``, an optional-dependencies
extra, a PEP 735 dependency group, ``[build-system] requires``) is a set of
distributions, keyed by canonical name, whose order and comments belong to
the user. fastscaffold's base of ``pyproject.toml`` is the template's arrays
with each applied pattern's requirements appended (in the canonical pattern
order) when the array lacks that distribution. Merging an array applies the
base-to-theirs change as set edits on the user's array: a distribution the
user already lists is neither duplicated nor taken over (it is remembered
as theirs, so removing the pattern leaves it), one the user changed is left
as they have it, and one fastscaffold added and nobody changed is removed
when no pattern needs it any more. New entries go at the end of the user's
array.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableSet, Sequence
from typing import Any

# What a pattern manifest's wiring tables feed, as dotted TOML paths. The dev
# tools go to the PEP 735 group uv installs by default (`uv sync`) and to the
# `dev` extra pip users install (`pip install -e '.[dev]'`), kept alike.
WIRING_ARRAYS: dict[str, tuple[str, ...]] = {
    "dependencies": ("project.dependencies",),
    "dev_dependencies": ("dependency-groups.dev", "project.optional-dependencies.dev"),
}


def requirement_name(item: str) -> str:
    """Return the canonical distribution name of a PEP 508 requirement (or the item itself)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return str(canonicalize_name(Requirement(item).name))
    except InvalidRequirement:
        return item


def is_requirement_array(path: Sequence[str]) -> bool:
    """Return whether the TOML key ``path`` holds a requirement array."""
    if tuple(path) in {("project", "dependencies"), ("build-system", "requires")}:
        return True
    if len(path) == 3 and path[:2] == ("project", "optional-dependencies"):
        return True
    return len(path) == 2 and path[0] == "dependency-groups"


def _array_at(document: Any, dotted: str) -> Any:
    """Return the array at ``dotted`` (``project.optional-dependencies.dev``), made if missing."""
    import tomlkit

    *tables, key = dotted.split(".")
    container = document
    for name in tables:
        if name not in container:
            container[name] = tomlkit.table()
        container = container[name]
    if key not in container:
        array = tomlkit.array()
        array.multiline(True)
        container[key] = array
    return container[key]


def _names(array: Iterable[Any]) -> dict[str, str]:
    return {requirement_name(str(item)): str(item) for item in array if isinstance(item, str)}


def layer_requirements(document: Any, wanted: Mapping[str, Sequence[str]]) -> None:
    """Append ``wanted`` requirements (by dotted array path) that ``document`` does not list.

    This builds the base of pyproject.toml: the template's arrays plus the
    patterns' requirements, first come first kept.
    """
    for dotted, requirements in wanted.items():
        if not requirements:
            continue
        array = _array_at(document, dotted)
        present = set(_names(array))
        for requirement in requirements:
            name = requirement_name(requirement)
            if name not in present:
                array.append(requirement)
                present.add(name)


def _index_of(array: Any, name: str) -> int | None:
    for index, item in enumerate(array):
        if isinstance(item, str) and requirement_name(str(item)) == name:
            return index
    return None


def merge_requirements(
    base: Sequence[str],
    ours: Any,
    theirs: Sequence[str],
    *,
    user_owned: MutableSet[str],
    trust_record: bool = False,
) -> None:
    """Apply the change from ``base`` to ``theirs`` to the tomlkit array ``ours``, as set edits.

    Args:
        base: The array in fastscaffold's previous base.
        ours: The user's array, edited in place (formatting and comments kept).
        theirs: The array in the new base.
        user_owned: Names the user listed before fastscaffold needed them;
            updated in place.
        trust_record: Take ``user_owned`` as complete: a distribution in
            ours that the new base adds is fastscaffold's, not the user's
            (for records upgraded from schema 1, whose base was stale).
    """
    old, new = _names(base), _names(theirs)
    for name, requirement in old.items():
        if new.get(name) == requirement:
            continue
        index = _index_of(ours, name)
        if index is None:
            continue  # deleted by the user: stays deleted
        if name in user_owned:
            if name not in new:
                user_owned.discard(name)  # nothing needs it any more: plainly the user's
            continue
        if str(ours[index]) != requirement:
            continue  # changed by the user: theirs now
        if name in new:
            ours[index] = new[name]
        else:
            del ours[index]
    for name, requirement in new.items():
        if name in old:
            continue
        if _index_of(ours, name) is not None:
            if not trust_record:
                user_owned.add(name)
            continue
        # At the end: between the user's lines it could split a comment from its entry.
        ours.append(requirement)
