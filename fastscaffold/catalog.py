"""The catalog of patterns: finding pattern folders, and ordering what ``add`` must apply.

Patterns are folders under ``templates/patterns/`` shipped with fastscaffold.
More folders can be listed in ``FASTSCAFFOLD_PATTERNS_PATH`` (separated like
``PATH``): a team's own patterns, found the same way; a folder there
overrides a shipped pattern of the same name.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.errors import PatternError, TemplateError
from fastscaffold.manifest import MANIFEST_FILE, USAGE_FILE, Manifest, load_manifest
from fastscaffold.templates import templates_root

PATH_VARIABLE = "FASTSCAFFOLD_PATTERNS_PATH"


@dataclass(frozen=True)
class Pattern:
    """A pattern folder and its validated manifest."""

    folder: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        """Return the pattern's name."""
        return self.manifest.name

    def usage(self) -> str:
        """Return the pattern's USAGE document (Markdown)."""
        return (self.folder / USAGE_FILE).read_text(encoding="utf-8")


def pattern_roots() -> list[Path]:
    """Return the folders searched for patterns, the user's first."""
    extra = os.environ.get(PATH_VARIABLE, "")
    roots = [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return [*roots, templates_root() / "patterns"]


def load_catalog() -> dict[str, Pattern]:
    """Load every pattern, by name.

    Raises:
        TemplateError: A manifest is invalid, or names a required or
            conflicting pattern that does not exist.
    """
    catalog: dict[str, Pattern] = {}
    for root in reversed(pattern_roots()):  # later roots override earlier ones
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if (folder / MANIFEST_FILE).is_file():
                manifest = load_manifest(folder)
                catalog[manifest.name] = Pattern(folder=folder, manifest=manifest)
    for pattern in catalog.values():
        for other in (*pattern.manifest.requires, *pattern.manifest.conflicts):
            if other not in catalog:
                raise TemplateError(
                    f"Pattern {pattern.name!r} refers to {other!r}, which does not exist."
                )
    return dict(sorted(catalog.items()))


def get_pattern(catalog: dict[str, Pattern], name: str) -> Pattern:
    """Return the pattern called ``name``.

    Raises:
        PatternError: No such pattern; the message lists the available ones
            and suggests the closest name.
    """
    if name in catalog:
        return catalog[name]
    available = [n for n, p in catalog.items() if p.manifest.kind == "pattern"]
    close = difflib.get_close_matches(name, list(catalog), n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    raise PatternError(
        f"Unknown pattern {name!r}.{suggestion}",
        f"Available patterns: {', '.join(available) or 'none'}. See `fastscaffold list`.",
    )


def resolve_additions(
    catalog: dict[str, Pattern], requested: Sequence[str], applied: Iterable[str]
) -> list[Pattern]:
    """Return the patterns to apply for ``requested``, requirements first.

    Already applied patterns are left out; requirements that are not applied
    yet are included before the patterns that need them.

    Raises:
        PatternError: A name is unknown, a requirement cycle exists, or a
            pattern conflicts with one applied or requested.
    """
    applied_set = set(applied)
    ordered: list[Pattern] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in applied_set or any(p.name == name for p in ordered):
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise TemplateError(f"Patterns require each other in a cycle: {cycle}.")
        pattern = get_pattern(catalog, name)
        visiting.append(name)
        for required in pattern.manifest.requires:
            visit(required)
        visiting.pop()
        ordered.append(pattern)

    for name in requested:
        visit(name)
    everything = applied_set | {p.name for p in ordered}
    for pattern in ordered:
        for other in pattern.manifest.conflicts:
            if other in everything:
                where = "is applied" if other in applied_set else "is requested too"
                raise PatternError(
                    f"Pattern {pattern.name!r} conflicts with {other!r}, which {where}.",
                    f"Remove {other!r} first (`fastscaffold remove {other}`), or choose one.",
                )
    for name in applied_set:
        if name in catalog:
            for other in catalog[name].manifest.conflicts:
                if other in {p.name for p in ordered}:
                    raise PatternError(
                        f"Pattern {other!r} conflicts with {name!r}, which is applied.",
                        f"Remove {name!r} first (`fastscaffold remove {name}`), or choose one.",
                    )
    return ordered
