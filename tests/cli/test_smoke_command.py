"""`fastscaffold smoke` through the real CLI, against the fixture patterns of tests/fixtures/smoke.

The fast tests cover what is decided before anything runs (validation,
options); the e2e ones build real projects with `--combinations alone
--no-install` (the tools of fastscaffold's own environment), one of them
interrupted with Ctrl-C on a real pty.
"""

from __future__ import annotations

import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold.cli import app
from tests.helpers import REPO_ROOT, copy_legacy_project, wait_for_exit

SMOKE = REPO_ROOT / "tests" / "fixtures" / "smoke"


def _smoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["smoke", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_broken_team_pattern_is_reported_as_theirs_with_file_and_field(
    runner: CliRunner,
) -> None:
    code, output = _smoke(runner, "--patterns-path", str(SMOKE / "broken"))
    assert code == 1
    assert "Traceback" not in output
    assert "4 problem(s) in the patterns; nothing was run" in output
    assert f"{SMOKE / 'broken' / 'loud' / 'pattern.toml'} is invalid: summary:" in output
    assert "wirng: Extra inputs are not permitted" in output
    assert f"{SMOKE / 'broken' / 'mute'} has no USAGE.md" in output
    assert "Hint: Fix the pattern folders named above" in output


def test_a_template_that_does_not_render_is_reported_before_anything_runs(
    runner: CliRunner,
) -> None:
    code, output = _smoke(runner, "--patterns-path", str(SMOKE / "unrenderable"))
    assert code == 1
    assert "Your pattern at" in output and "'pakage_name' is undefined" in output
    assert "test_typo.py.jinja" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all", "--combinations", "alone,sideways"], "Unknown combination 'sideways'"),
        (["--all", "--combinations", "update"], "needs a project made earlier"),
        (["--all", "--jobs", "0"], "--jobs 0: must be at least 1"),
        (["--patterns-path", "/nonexistent/patterns"], "no such folder"),
        (["--all", "--from", "/nonexistent/old-api"], "--from /nonexistent/old-api: no such"),
        ([], "No pattern selected"),
    ],
)
def test_bad_options_are_a_clear_error_with_exit_code_2(
    runner: CliRunner, args: list[str], message: str
) -> None:
    code, output = _smoke(runner, *args)
    assert code == 2, output
    assert message in output and "Traceback" not in output


def test_an_unknown_pattern_is_named(runner: CliRunner) -> None:
    code, output = _smoke(runner, "tin", "--patterns-path", str(SMOKE / "good"))
    assert code == 1
    assert "Unknown pattern 'tin'. Did you mean 'tiny'?" in output


def test_dry_run_validates_and_shows_the_plan(runner: CliRunner) -> None:
    code, output = _smoke(runner, "--patterns-path", str(SMOKE / "good"), "--dry-run")
    assert code == 0, output
    assert "Patterns valid: tiny. 3 project(s) would be checked:" in output
    assert "new-then-add-each: user edits; then add tiny" in output


@pytest.mark.e2e
def test_a_pattern_failing_its_own_tests_fails_the_run_naming_the_step(tmp_path: Path) -> None:
    import subprocess

    report, junit = tmp_path / "report.json", tmp_path / "report.xml"
    argv = [sys.executable, "-m", "fastscaffold", "smoke", "--patterns-path",
            str(SMOKE / "failing"), "--combinations", "alone", "--no-install", "--jobs", "1",
            "--json", "--junit", str(junit)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    report.write_text(done.stdout)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is False and data["patterns"] == ["doomed"]
    [project] = data["projects"]
    assert project["id"] == "with-doomed"
    statuses = {step["name"]: step["status"] for step in project["steps"]}
    assert statuses.pop("pytest") == "failed"
    assert set(statuses.values()) == {"passed"}, statuses
    pytest_step = next(s for s in project["steps"] if s["name"] == "pytest")
    assert any("DOOMED-MARKER" in line for line in pytest_step["tail"])
    # The person reading the log sees which project and step failed, and why.
    assert "with-doomed: pytest" in done.stderr and "DOOMED-MARKER" in done.stderr
    assert "Failed. 1 project(s): 6 step(s) passed, 1 failed" in done.stderr
    suites = ET.parse(junit).getroot()
    [suite] = suites.findall("testsuite")
    assert suite.get("name") == "with-doomed" and suite.get("failures") == "1"
    failing = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failing == ["pytest"]


@pytest.mark.e2e
def test_update_from_a_project_made_by_an_older_fastscaffold_is_checked(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from fastscaffold import __version__

    # The team's patterns folder: the fixture patterns the 0.1 project was made with.
    patterns = tmp_path / "patterns"
    for name in ("counter", "greeting", "rival"):
        shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "patterns" / name, patterns / name)
    (patterns / "rival" / "tests").mkdir()
    (patterns / "rival" / "tests" / "test_rival.py").write_text("def test_it() -> None: ...\n")
    legacy = copy_legacy_project(tmp_path / "from")
    before = sorted(
        (p.relative_to(legacy), p.read_bytes()) for p in legacy.rglob("*") if p.is_file()
    )
    kept = tmp_path / "kept"
    argv = [sys.executable, "-m", "fastscaffold", "smoke", "--patterns-path", str(patterns),
            "--combinations", "update", "--from", str(legacy), "--no-install",
            "--keep", str(kept), "--json"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    [project] = json.loads(done.stdout)["projects"]
    assert project["id"] == "update-from-legacy-api-0.1.0"
    assert [s["name"] for s in project["steps"] if s["status"] == "passed"] == [
        "generate", "install", "ruff check", "ruff format", "mypy", "pytest", "check"
    ]  # fmt: skip
    # The copy was brought up to the installed templates; the original is untouched.
    copy = kept / project["id"] / legacy.name
    record = json.loads((copy / ".fastscaffold" / "record.json").read_text())
    assert record["generator"]["version"] == record["units"]["project"]["version"] == __version__
    after = sorted(
        (p.relative_to(legacy), p.read_bytes()) for p in legacy.rglob("*") if p.is_file()
    )
    assert after == before


def _snapshot(folder: Path) -> list[tuple[Path, bytes]]:
    return sorted((p.relative_to(folder), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def _processes_under(folder: Path) -> set[int]:
    """Return the processes whose working directory is inside ``folder``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = (entry / "cwd").readlink()
        except OSError:
            continue
        if cwd.is_relative_to(folder):
            found.add(int(entry.name))
    return found


@pytest.mark.e2e
@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept"])
def test_ctrl_c_stops_every_child_and_leaves_nothing_behind(tmp_path: Path, keep: bool) -> None:
    import pexpect

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    kept = tmp_path / "kept"
    argv = ["-m", "fastscaffold", "smoke", "--patterns-path", str(SMOKE / "good"),
            "--combinations", "alone,add", "--no-install", "--jobs", "2"]  # fmt: skip
    if keep:
        argv += ["--keep", str(kept)]
    env = {**os.environ, "TMPDIR": str(scratch)}
    child = pexpect.spawn(sys.executable, argv, env=env, cwd=str(tmp_path), timeout=120)
    watched = kept if keep else scratch
    deadline = time.monotonic() + 120
    running: set[int] = set()
    while not running and time.monotonic() < deadline:
        running = _processes_under(watched)
        time.sleep(0.1)
    assert running, "no step started within two minutes"
    child.sendintr()  # Ctrl-C, as the terminal sends it
    status = wait_for_exit(child)
    child.close()
    assert status == 130, child.before
    assert b"Aborted." in (child.before or b"")
    assert not _processes_under(watched)
    assert not any(_alive(pid) for pid in running)
    leftovers = [p.name for p in scratch.iterdir() if p.name.startswith("fastscaffold-smoke-")]
    assert leftovers == []
    if keep:
        assert (kept / "with-tiny").is_dir() or (kept / "new-then-add-each").is_dir()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
