"""Three-way merge of TOML files by structure, never by text.

``pyproject.toml`` and a pattern's TOML files (``versions.toml``) are the
user's, but fastscaffold's templates and state shape them too. Merging one
applies the change from base to theirs to the user's document with tomlkit,
key by key, so the user's own keys, order, comments and layout stay and no
conflict marker can ever make the file invalid:

* a key only the templates changed takes their value; one only the user
  changed keeps the user's; one both changed the same way is left alone;
* a key both changed differently is a conflict: the user's value stays and
  the conflict is reported (``update`` writes it to ``FILE.rej``);
* a key the templates dropped goes when the user left it as generated; one
  the user deleted stays deleted;
* requirement arrays are merged as sets (fastscaffold.dependencies).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSet
from dataclasses import dataclass
from typing import Any

from fastscaffold.dependencies import is_requirement_array, merge_requirements

_MISSING: Any = object()


class InvalidTomlError(ValueError):
    """Raised when the user's file is not valid TOML; the message says where."""


@dataclass(frozen=True)
class TomlConflict:
    """A key both the user and the templates changed, differently.

    Attributes:
        key: The dotted key.
        base: Its value in the previous base (None when absent).
        ours: The user's value.
        theirs: The templates' value now (None when they dropped it).
    """

    key: str
    base: Any
    ours: Any
    theirs: Any

    def describe(self) -> str:
        """Return one line saying what happened."""
        theirs = "dropped it" if self.theirs is None else f"now say {self.theirs!r}"
        before = "did not have it" if self.base is None else f"said {self.base!r}"
        return f"{self.key}: the templates {before} and {theirs}; yours is {self.ours!r}"


def parse(text: str, *, source: str) -> Any:
    """Parse ``text`` with tomlkit, or raise :class:`InvalidTomlError` naming the line."""
    import tomlkit

    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise InvalidTomlError(
            f"{source} is not valid TOML (line {exc.line}, column {exc.col})"
        ) from None


def _plain(value: Any) -> Any:
    if value is _MISSING:
        return _MISSING
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if unwrap is not None else value


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def merge_toml(
    base: str,
    ours: str,
    theirs: str,
    *,
    source: str,
    user_requirements: MutableMapping[str, MutableSet[str]] | None = None,
    trust_record: bool = False,
    prefer_theirs: bool = False,
) -> tuple[str, list[TomlConflict]]:
    """Merge the TOML ``ours`` with the change from ``base`` to ``theirs``.

    Args:
        base: fastscaffold's previous base of the file.
        ours: The user's file.
        theirs: fastscaffold's new base of the file.
        source: The file's path, for messages.
        user_requirements: Requirement names the user owns, by dotted array
            path; updated in place (fastscaffold.dependencies).
        trust_record: See :func:`fastscaffold.dependencies.merge_requirements`.
        prefer_theirs: Resolve conflicts with the templates' value (``--force``).

    Returns:
        The merged text and the conflicts (each left with the user's value,
        unless ``prefer_theirs``).

    Raises:
        InvalidTomlError: ``ours`` is not valid TOML.
    """
    import tomlkit

    document = parse(ours, source=source)
    merger = _Merger(
        user_requirements if user_requirements is not None else {},
        trust_record=trust_record,
        prefer_theirs=prefer_theirs,
    )
    merger.table(parse(base, source=f"{source} (base)"), document, parse(theirs, source=source), ())
    return tomlkit.dumps(document), merger.conflicts


class _Merger:
    def __init__(
        self,
        user_requirements: MutableMapping[str, MutableSet[str]],
        *,
        trust_record: bool,
        prefer_theirs: bool,
    ) -> None:
        self.user_requirements = user_requirements
        self.trust_record = trust_record
        self.prefer_theirs = prefer_theirs
        self.conflicts: list[TomlConflict] = []

    def table(
        self, base: Mapping[str, Any], ours: Any, theirs: Mapping[str, Any], path: tuple[str, ...]
    ) -> None:
        keys = list(dict.fromkeys([*theirs, *base]))
        for key in keys:
            self.key(key, base.get(key, _MISSING), ours, theirs.get(key, _MISSING), (*path, key))

    def key(self, key: str, base: Any, ours: Any, theirs: Any, path: tuple[str, ...]) -> None:
        mine = ours.get(key, _MISSING)
        if _plain(base) == _plain(theirs):
            return  # neither the templates nor the state changed it
        if is_requirement_array(path) and isinstance(mine, list) and not _is_table(theirs):
            owned = self.user_requirements.setdefault(".".join(path), set())
            merge_requirements(
                [] if base is _MISSING else [str(i) for i in base],
                mine,
                [] if theirs is _MISSING else [str(i) for i in theirs],
                user_owned=owned,
                trust_record=self.trust_record,
            )
            return
        if (
            _is_table(mine)
            and (_is_table(theirs) or theirs is _MISSING)
            and (_is_table(base) or base is _MISSING)
        ):
            self.table(
                {} if base is _MISSING else base, mine, {} if theirs is _MISSING else theirs, path
            )
            if theirs is _MISSING and not mine and base is not _MISSING:
                del ours[key]  # a table the templates dropped, emptied of their keys
            return
        if mine is _MISSING:
            if base is _MISSING:
                ours[key] = copy.deepcopy(theirs)  # new in the templates
            return  # deleted by the user: stays deleted
        if _plain(mine) == _plain(base):
            self._take(ours, key, theirs)
        elif _plain(mine) != _plain(theirs):
            self.conflicts.append(
                TomlConflict(
                    key=".".join(path),
                    base=None if base is _MISSING else _plain(base),
                    ours=_plain(mine),
                    theirs=None if theirs is _MISSING else _plain(theirs),
                )
            )
            if self.prefer_theirs:
                self._take(ours, key, theirs)

    @staticmethod
    def _take(ours: Any, key: str, theirs: Any) -> None:
        if theirs is _MISSING:
            del ours[key]
        else:
            ours[key] = copy.deepcopy(theirs)
