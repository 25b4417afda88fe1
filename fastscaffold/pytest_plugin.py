"""fastscaffold's pytest plugin (entry point ``pytest11``), for authors of patterns.

Fixtures:

* ``fastscaffold_project``: a factory; ``fastscaffold_project("tasks", settings=[...])``
  generates a project with those patterns into ``tmp_path`` and returns a
  :class:`~fastscaffold.testing.GeneratedProject` (``run("pytest")``,
  ``serve()``, ``check()``, ``add``/``remove``/``update``, ``edit``).
* ``fastscaffold_patterns``: a monkeypatch-style helper putting a folder of
  your patterns on ``FASTSCAFFOLD_PATTERNS_PATH`` for one test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fastscaffold.testing import GeneratedProject, generate

Factory = Callable[..., GeneratedProject]


@pytest.fixture
def fastscaffold_patterns(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Return a function that puts a folder of patterns first on ``FASTSCAFFOLD_PATTERNS_PATH``."""
    from fastscaffold.catalog import PATH_VARIABLE

    def use(folder: Path) -> None:
        before = os.environ.get(PATH_VARIABLE)
        value = os.pathsep.join(p for p in (str(Path(folder).resolve()), before) if p)
        monkeypatch.setenv(PATH_VARIABLE, value)

    return use


@pytest.fixture
def fastscaffold_project(tmp_path: Path) -> Factory:
    """Return a factory generating a project (with the given patterns) into ``tmp_path``."""
    made = 0

    def make(
        *patterns: str, name: str = "smoke-api", settings: tuple[str, ...] = ()
    ) -> GeneratedProject:
        nonlocal made
        made += 1
        parent = tmp_path / f"project-{made}"
        parent.mkdir()
        return generate(parent, name=name, patterns=patterns, settings=settings)

    return make
