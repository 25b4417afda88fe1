"""Checking pattern folders before a smoke run spends minutes installing anything.

Each folder must have a manifest that loads, a USAGE.md, tests (rendered
into the project under ``files/tests/``, or fastscaffold-style ones in
``tests/``), and templates that render with ``StrictUndefined`` for a
project with the pattern applied. Every problem of every folder is
reported at once, each naming its file and, for a manifest, its field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.catalog import PATH_VARIABLE, _is_shipped
from fastscaffold.errors import FastScaffoldError, PatternDefinitionError, TemplateError
from fastscaffold.manifest import FILES_DIR, MANIFEST_FILE, USAGE_FILE, load_manifest


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pattern folder."""

    folder: Path
    message: str


@contextmanager
def patterns_path(roots: Sequence[Path]) -> Iterator[None]:
    """Put ``roots`` in front of ``FASTSCAFFOLD_PATTERNS_PATH`` for the duration.

    The variable (not an argument) is how the catalog, and every
    ``fastscaffold`` subprocess of the run, find a team's patterns.
    """
    before = os.environ.get(PATH_VARIABLE)
    parts = [str(root.resolve()) for root in roots]
    if before:
        parts.append(before)
    if parts:
        os.environ[PATH_VARIABLE] = os.pathsep.join(parts)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PATH_VARIABLE, None)
        else:
            os.environ[PATH_VARIABLE] = before


def pattern_folders(root: Path) -> list[Path]:
    """Return the pattern folders under ``root``: those holding a manifest."""
    return sorted(p for p in root.iterdir() if (p / MANIFEST_FILE).is_file())


def _has_tests(folder: Path) -> bool:
    for where in (folder / FILES_DIR / "tests", folder / "tests"):
        if where.is_dir() and any(where.rglob("test_*.py*")):
            return True
    return False


def folder_problems(folder: Path) -> list[Problem]:
    """Return what is wrong with the layout and manifest of one pattern folder."""
    problems: list[Problem] = []
    try:
        load_manifest(folder)
    except TemplateError as exc:
        problems.append(Problem(folder, str(exc)))
    if not (folder / USAGE_FILE).is_file() and not problems:
        problems.append(Problem(folder, f"{folder / USAGE_FILE} is missing."))
    if not _has_tests(folder):
        problems.append(
            Problem(
                folder,
                f"{folder} has no tests: put test_*.py files under {FILES_DIR}/tests/ "
                "(they become the project's) or tests/.",
            )
        )
    return problems


def render_problems(names: Sequence[str], answers: dict[str, object]) -> list[Problem]:
    """Return the patterns among ``names`` whose templates fail to render (StrictUndefined).

    Each is rendered into an in-memory project with it (and what it
    requires) applied, with its options at their defaults.
    """
    from fastscaffold.catalog import load_catalog
    from fastscaffold.creation import initial_state, render_new_project

    catalog = load_catalog()
    problems: list[Problem] = []
    for name in names:
        try:
            state, _ = initial_state(dict(answers), (name,))
            render_new_project(state)
        except FastScaffoldError as exc:
            problems.append(Problem(catalog[name].folder, str(exc)))
    return problems


def raise_problems(problems: Sequence[Problem]) -> None:
    """Raise one error listing every problem, or return when there is none.

    Raises:
        TemplateError: Only shipped patterns are broken (a bug in fastscaffold).
        PatternDefinitionError: A team's pattern is broken; its author can fix it.
    """
    if not problems:
        return
    listed = "\n".join(f"  {problem.message}" for problem in problems)
    message = f"{len(problems)} problem(s) in the patterns; nothing was run:\n{listed}"
    if all(_is_shipped(problem.folder) for problem in problems):
        raise TemplateError(message)
    raise PatternDefinitionError(
        message, "Fix the pattern folders named above, then run `fastscaffold smoke` again."
    )
