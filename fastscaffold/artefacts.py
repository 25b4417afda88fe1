"""Build artefacts and editor droppings: never templates, never part of a project.

An installer byte-compiles the ``.py`` templates inside an installed wheel
(``__pycache__/*.pyc``), editors leave swap and backup files, macOS leaves
``.DS_Store``. None of them is a template: rendering skips them, the record
never tracks them, and ``check`` does not report them.
"""

from __future__ import annotations

from pathlib import PurePosixPath

_FOLDERS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".git"})
_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_SUFFIXES = (".pyc", ".pyo", ".swp", ".swo", "~")

# The same, as glob patterns: for copier's `exclude` and the wheel's build exclusions.
EXCLUDE_GLOBS = ("__pycache__", "*.py[co]", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                 ".git", ".DS_Store", "Thumbs.db", "desktop.ini", "*.sw[po]", "*~")  # fmt: skip


def is_artefact(path: str) -> bool:
    """Return whether the relative POSIX ``path`` is a build artefact or an editor dropping."""
    parts = PurePosixPath(path).parts
    if not parts:
        return False
    if any(part in _FOLDERS for part in parts[:-1]):
        return True
    name = parts[-1]
    return name in _FOLDERS or name in _NAMES or name.endswith(_SUFFIXES)
