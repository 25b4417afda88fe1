"""The catalog of patterns: finding pattern folders, and ordering what ``add`` must apply.

Patterns are folders under ``templates/patterns/`` shipped with fastscaffold.
More folders can be listed in ``FASTSCAFFOLD_PATTERNS_PATH`` (separated like
``PATH``): a team's own patterns, found the same way; a folder there
overrides a shipped pattern of the same name.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastscaffold.errors import PatternDefinitionError, PatternError, TemplateError
from fastscaffold.manifest import FILES_DIR, MANIFEST_FILE, USAGE_FILE, Manifest, load_manifest
from fastscaffold.plan import StagedFile
from fastscaffold.record import Unit
from fastscaffold.templates import templates_root

PATH_VARIABLE = "FASTSCAFFOLD_PATTERNS_PATH"
README_SECTION = "README.section.md"


def _is_shipped(folder: Path) -> bool:
    return folder.resolve().is_relative_to((templates_root() / "patterns").resolve())


@contextmanager
def authored_by(folder: Path) -> Iterator[None]:
    """Report a broken pattern from ``FASTSCAFFOLD_PATTERNS_PATH`` as its author's to fix.

    The same problem in a pattern fastscaffold ships stays a TemplateError
    (a bug to report).
    """
    try:
        yield
    except TemplateError as exc:
        if _is_shipped(folder):
            raise
        raise PatternDefinitionError(
            f"Your pattern at {folder} is broken: {exc}",
            f"Fix the pattern (it is found through {PATH_VARIABLE}), or take its folder "
            f"out of {PATH_VARIABLE}.",
        ) from None


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
        """Return the pattern's USAGE document (Markdown), with its options appended."""
        text = (self.folder / USAGE_FILE).read_text(encoding="utf-8")
        return text if not self.manifest.options else f"{text.rstrip()}\n\n{self.options_table()}"

    def options_table(self) -> str:
        """Return the pattern's options as a Markdown table (what ``--set`` accepts)."""
        lines = [
            "## Options",
            "",
            f"Chosen when the pattern is added: `fastscaffold add {self.name} --set NAME=VALUE`"
            " (they are recorded, and `update` keeps them).",
            "",
            "| option | type | default | allowed | meaning |",
            "|---|---|---|---|---|",
        ]
        for name, option in sorted(self.manifest.options.items()):
            allowed = ""
            if option.choices:
                allowed = ", ".join(option.choices)
            elif option.min is not None or option.max is not None:
                low = "" if option.min is None else str(option.min)
                high = "" if option.max is None else str(option.max)
                allowed = f"{low}..{high}"
            elif option.regex:
                allowed = f"`{option.regex}`"
            lines.append(
                f"| `{name}` | {option.type} | `{option.default}` | {allowed} | {option.help} |"
            )
        return "\n".join(lines) + "\n"

    def unit(self, options: Mapping[str, Any]) -> Unit:
        """Return the record's unit for this pattern applied with ``options`` (already typed)."""
        manifest = self.manifest
        return Unit(
            template=manifest.name,
            version=manifest.version,
            answers=dict(options),
            kind=manifest.kind,
            summary=manifest.summary,
            requires=list(manifest.requires),
            wiring=manifest.wiring,
        )

    def render(self, data: Mapping[str, Any]) -> dict[str, StagedFile]:
        """Render the pattern's ``files/`` with ``data`` (the project's answers and its options).

        Raises:
            TemplateError: A shipped template is broken.
            PatternDefinitionError: A team's template is broken.
        """
        from fastscaffold.render import render_tree

        with authored_by(self.folder):
            return render_tree(self.folder / FILES_DIR, data)

    def readme_section(self, data: Mapping[str, Any]) -> list[str] | None:
        """Return the lines of the pattern's section in the project README, if it has one."""
        from fastscaffold.render import render_string

        source = self.folder / README_SECTION
        if not source.is_file():
            return None
        with authored_by(self.folder):
            text = render_string(source.read_text(encoding="utf-8"), data, origin=str(source))
        return text.strip("\n").splitlines()


def pattern_roots() -> list[Path]:
    """Return the folders searched for patterns, the user's first."""
    extra = os.environ.get(PATH_VARIABLE, "")
    roots = [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    return [*roots, templates_root() / "patterns"]


def load_catalog() -> dict[str, Pattern]:
    """Load every pattern, by name.

    Raises:
        TemplateError: A shipped manifest is invalid, or names a required or
            conflicting pattern that does not exist.
        PatternDefinitionError: The same, in a pattern from FASTSCAFFOLD_PATTERNS_PATH.
    """
    catalog: dict[str, Pattern] = {}
    for root in reversed(pattern_roots()):  # later roots override earlier ones
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if (folder / MANIFEST_FILE).is_file():
                with authored_by(folder):
                    manifest = load_manifest(folder)
                catalog[manifest.name] = Pattern(folder=folder, manifest=manifest)
    for pattern in catalog.values():
        for other in (*pattern.manifest.requires, *pattern.manifest.conflicts):
            if other not in catalog:
                with authored_by(pattern.folder):
                    raise TemplateError(
                        f"{pattern.folder / MANIFEST_FILE}: pattern {pattern.name!r} refers to "
                        f"{other!r}, which does not exist."
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
