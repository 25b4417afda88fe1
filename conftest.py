"""Fixtures shared by every layer of fastscaffold's tests.

It sits at the repository's top so that the tests inside pattern folders
(templates/patterns/<name>/tests/) get the same fixtures as tests/.
"""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold.creation import NewOptions, new_project

# Real services (redis-server, a served app) for the end-to-end tests of every pattern.
pytest_plugins = ["tests.services"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Stash each phase's report on the test, so fixtures can tell that it failed.

    The browser tests save screenshots then (tests/e2e/browser.py).
    """
    from tests.e2e.browser import REPORTS

    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite tests/golden/ from the current templates instead of comparing.",
    )


@pytest.fixture(autouse=True)
def isolate_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the developer's home, config and environment."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("FASTSCAFFOLD_PATTERNS_PATH", raising=False)
    # Rich adapts to the terminal; fix the width so messages do not wrap.
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A base project generated once per session; tests must not modify it."""
    parent = tmp_path_factory.mktemp("generated")
    result = new_project(NewOptions(name="demo-api", parent=parent, description="Demo service"))
    yield result.destination


# Rendered projects and templates hold test files of generated projects: never
# collect those as fastscaffold's own.
collect_ignore_glob = [
    "tests/golden/*",
    "tests/fixtures/*",
    "templates/*/*/files/*",
    "templates/project/*",
]

FIXTURE_PATTERNS = Path(__file__).parent / "tests" / "fixtures" / "patterns"


@pytest.fixture
def fixture_patterns(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the engine-test patterns (greeting, counter, rival) available."""
    monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(FIXTURE_PATTERNS))
    return FIXTURE_PATTERNS


@pytest.fixture
def project(base_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of the base project that the test may change."""
    copy = tmp_path / base_project.name
    shutil.copytree(base_project, copy)
    return copy
