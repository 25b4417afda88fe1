"""`fastscaffold update` and `check`, against a project made with version 1 of a pattern.

tests/fixtures/update/v1/greeting is the older copy of the greeting fixture
pattern; the current one (tests/fixtures/patterns/greeting, version 2)
changed the router's setting line, renamed cli.py to commands.py, renamed
the setting GREETING_TARGET to GREETING_NAME (both as migrations) and
dropped legacy.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURE_PATTERNS
from fastscaffold.cli import app
from fastscaffold.creation import NewOptions, new_project
from tests.helpers import REPO_ROOT, read_tree

V1 = REPO_ROOT / "tests" / "fixtures" / "update" / "v1"
PKG = "old_api"
ROUTER = f"{PKG}/greeting/router.py"
SETTING_LINE = '    return "Hello, " + os.environ.get("GREETING_TARGET", "world") + "!"\n'


@pytest.fixture(scope="module")
def v1_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated while version 1 of the greeting pattern was installed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTSCAFFOLD_PATTERNS_PATH", f"{V1}:{FIXTURE_PATTERNS}")
        parent = tmp_path_factory.mktemp("v1")
        options = NewOptions(name="old-api", parent=parent, patterns=("greeting",))
        return new_project(options).destination


@pytest.fixture
def project(v1_project: Path, tmp_path: Path, fixture_patterns: Path) -> Path:
    """A copy of the v1 project, with version 2 of the pattern installed."""
    import shutil

    copy = tmp_path / "old-api"
    shutil.copytree(v1_project, copy)
    return copy


def _invoke(runner: CliRunner, project: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--project", str(project)])
    return result.exit_code, result.output


def _edit(project: Path, path: str, old: str, new: str) -> None:
    target = project / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))


def test_a_fresh_project_is_up_to_date(runner: CliRunner, base_project: Path) -> None:
    code, output = _invoke(runner, base_project, "check")
    assert (code, "OK") == (0, output.split(":")[0].strip()), output
    before = read_tree(base_project)
    code, output = _invoke(runner, base_project, "update")
    assert code == 0 and "Up to date" in output
    assert read_tree(base_project) == before


def test_check_reports_a_project_behind_the_templates(runner: CliRunner, project: Path) -> None:
    code, output = _invoke(runner, project, "check")
    assert code == 1
    assert "Behind the installed templates" in output
    assert ROUTER in output and f"{PKG}/greeting/legacy.py" in output


def test_update_merges_edits_outside_the_changed_region(runner: CliRunner, project: Path) -> None:
    router = project / ROUTER
    router.write_text(router.read_text() + "\n\n# Ours: a note at the end.\n")
    _edit(project, f"{PKG}/greeting/cli.py", '"""The `greet` management command."""',
          '"""The `greet` management command (ours)."""')  # fmt: skip
    (project / ".env").write_text("GREETING_TARGET=team\nLOG_LEVEL=DEBUG\n")
    code, output = _invoke(runner, project, "update")
    assert code == 0, output
    text = router.read_text()
    assert 'os.environ.get("GREETING_NAME", "world")' in text  # theirs
    assert text.endswith("# Ours: a note at the end.\n")  # ours
    # The migration moved cli.py, edits and all, and merged it with v2's commands.py.
    assert not (project / PKG / "greeting" / "cli.py").exists()
    commands = (project / PKG / "greeting" / "commands.py").read_text()
    assert "(ours)" in commands
    assert "Migration greeting: moved" in output
    # ... and renamed the setting in .env and .env.example.
    assert (project / ".env").read_text() == "GREETING_NAME=team\nLOG_LEVEL=DEBUG\n"
    assert "# GREETING_NAME=world" in (project / ".env.example").read_text()
    # The unedited legacy module v2 no longer ships is gone; the wiring follows v2.
    assert not (project / PKG / "greeting" / "legacy.py").exists()
    assert "greeting_commands.register(cli)" in (project / PKG / "_fastscaffold.py").read_text()
    record = json.loads((project / ".fastscaffold" / "record.json").read_text())
    assert record["units"]["greeting"]["version"] == "2"
    # A second update changes nothing, and check is satisfied.
    after = read_tree(project)
    code, output = _invoke(runner, project, "update")
    assert code == 0 and "Up to date" in output
    assert read_tree(project) == after
    assert _invoke(runner, project, "check")[0] == 0


def test_an_edited_file_the_templates_dropped_is_kept(runner: CliRunner, project: Path) -> None:
    legacy = project / PKG / "greeting" / "legacy.py"
    legacy.write_text(legacy.read_text() + "USED_BY_US = True\n")
    code, output = _invoke(runner, project, "update")
    assert code == 0, output
    assert "USED_BY_US" in legacy.read_text()
    assert "kept" in output and f"{PKG}/greeting/legacy.py" in output


def test_a_file_the_user_deleted_stays_deleted(runner: CliRunner, project: Path) -> None:
    (project / "docs" / "greeting.md").unlink()
    code, output = _invoke(runner, project, "update")
    assert code == 0, output
    assert not (project / "docs" / "greeting.md").exists()


def _overlap(project: Path) -> None:
    _edit(project, ROUTER, '"GREETING_TARGET", "world"', '"GREETING_TARGET", "team"')


def test_overlapping_edits_get_conflict_markers_inline(runner: CliRunner, project: Path) -> None:
    _overlap(project)
    code, output = _invoke(runner, project, "update")
    assert code == 1
    assert "conflict" in output and ROUTER in output
    text = (project / ROUTER).read_text()
    assert "<<<<<<< yours\n" in text and ">>>>>>> new templates\n" in text
    assert '"GREETING_TARGET", "team"' in text and '"GREETING_NAME", "world"' in text
    # check fails while the markers are there; resolving them satisfies it.
    code, output = _invoke(runner, project, "check")
    assert code == 1 and f"Conflict markers left in {ROUTER}" in output
    lines = text.splitlines(keepends=True)
    start = lines.index("<<<<<<< yours\n")
    end = lines.index(">>>>>>> new templates\n")
    resolved = [*lines[:start], SETTING_LINE.replace("GREETING_TARGET", "GREETING_NAME"),
                *lines[end + 1 :]]  # fmt: skip
    (project / ROUTER).write_text("".join(resolved))
    assert _invoke(runner, project, "check")[0] == 0


def test_rej_mode_keeps_the_users_file_and_writes_the_change_beside_it(
    runner: CliRunner, project: Path
) -> None:
    _overlap(project)
    mine = (project / ROUTER).read_text()
    code, output = _invoke(runner, project, "update", "--conflict", "rej")
    assert code == 1
    assert (project / ROUTER).read_text() == mine
    rejected = (project / f"{ROUTER}.rej").read_text()
    assert '+    return "Hello, " + os.environ.get("GREETING_NAME", "world") + "!"' in rejected
    code, output = _invoke(runner, project, "check")
    assert code == 1 and f"Rejected change to resolve: {ROUTER}.rej" in output


def test_fail_mode_writes_nothing(runner: CliRunner, project: Path) -> None:
    _overlap(project)
    before = read_tree(project)
    code, output = _invoke(runner, project, "update", "--conflict", "fail")
    assert code == 1
    assert "nothing was written" in output and ROUTER in output
    assert read_tree(project) == before


def test_dry_run_shows_the_merged_diff_and_writes_nothing(runner: CliRunner, project: Path) -> None:
    before = read_tree(project)
    code, output = _invoke(runner, project, "update", "--dry-run")
    assert code == 0, output
    assert f"--- a/{ROUTER}\n+++ b/{ROUTER}\n" in output
    assert '+    return "Hello, " + os.environ.get("GREETING_NAME", "world") + "!"' in output
    assert f"--- a/{PKG}/greeting/legacy.py\n+++ /dev/null\n" in output
    assert read_tree(project) == before


def test_the_projects_own_tests_pass_after_an_update(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "update")[0] == 0
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_update_reminds_of_markers_an_earlier_update_left(runner: CliRunner, project: Path) -> None:
    _overlap(project)
    assert _invoke(runner, project, "update")[0] == 1
    code, output = _invoke(runner, project, "update")
    assert code == 0
    assert "Up to date" in output
    assert f"Still to resolve from an earlier update (1): {ROUTER}" in output
