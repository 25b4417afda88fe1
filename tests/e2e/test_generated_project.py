"""A generated project meets fastscaffold's own bar: lint, format, strict types, its own tests."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_ruff_check_is_clean(base_project: Path) -> None:
    done = _run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], base_project)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean(base_project: Path) -> None:
    done = _run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], base_project
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean(base_project: Path, tmp_path: Path) -> None:
    # The project's own configuration says strict = true; --strict makes sure of it.
    done = _run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path)], base_project
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_the_projects_own_tests_pass(base_project: Path) -> None:
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], base_project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout
