"""The pytest plugin, used from a pattern author's test project through ``pytester``.

The author's tests generate a project, serve it on a free port, run a tool
in it, edit it, add and remove a pattern of theirs, and check it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from tests.helpers import REPO_ROOT

pytest_plugins = ["pytester"]

PLUGIN = "fastscaffold.pytest_plugin"

AUTHORS_TESTS = f"""
import urllib.request
from pathlib import Path

FIXTURES = Path({str(REPO_ROOT / "tests" / "fixtures" / "patterns")!r})


def test_the_whole_lifecycle(fastscaffold_project, fastscaffold_patterns) -> None:
    fastscaffold_patterns(FIXTURES)
    project = fastscaffold_project()
    assert project.package == "smoke_api" and project.check().ok
    with project.serve() as url:
        with urllib.request.urlopen(url + "/health") as response:
            assert response.status == 200
    project.edit("README.md", lambda text: text + "\\nOur note.\\n")
    change = project.add("greeting", settings=["greeting=Howdy"])
    assert "greeting" in str(change)
    done = project.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_greeting.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.run("ruff", "check", "--no-cache", ".").returncode == 0
    project.remove("greeting")
    assert project.check().ok
    assert "Our note." in (project.root / "README.md").read_text()


def test_a_failing_helper_fails_the_authors_test(fastscaffold_project) -> None:
    project = fastscaffold_project()
    assert project.run("ruff", "check", "does-not-exist.py").returncode == 0
"""


def _plugin_args() -> list[str]:
    # Once fastscaffold is installed with its pytest11 entry point the plugin
    # loads by itself; loading it twice is an error.
    installed = any(e.value == PLUGIN for e in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


@pytest.mark.e2e
def test_the_plugins_fixtures_cover_new_serve_run_add_remove_and_check(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_pattern=AUTHORS_TESTS)
    result = pytester.runpytest_subprocess(*_plugin_args(), "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_a_failing_helper_fails_the_authors_test*"])
