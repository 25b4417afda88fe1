"""OS errors at the CLI: one line naming the file and what to do, exit 1, nothing half-written."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold import plan as plan_module
from fastscaffold.cli import app
from tests.helpers import read_tree

pytestmark = pytest.mark.usefixtures("fixture_patterns")


def _invoke(runner: CliRunner, project: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--project", str(project)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_read_only_pyproject_is_refused_and_keeps_its_mode(
    runner: CliRunner, project: Path
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.chmod(0o444)
    before = read_tree(project)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 1
    assert f"Cannot write {pyproject}: it is read-only." in output
    assert "chmod u+w" in output and "Traceback" not in output
    assert read_tree(project) == before
    assert stat.S_IMODE(pyproject.stat().st_mode) == 0o444


def test_a_full_disk_mid_write_rolls_back_and_says_so(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_tree(project)
    real = plan_module.atomic_write
    written: list[Path] = []

    def fill_up(path: Path, content: bytes, *, executable: bool = False) -> None:
        if len(written) == 3:
            written.append(path)  # the disk is full once; the roll-back then has room
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        real(path, content, executable=executable)

    monkeypatch.setattr(plan_module, "atomic_write", fill_up)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 1
    assert "No space left on device." in output and "Free some disk space" in output
    monkeypatch.setattr(plan_module, "atomic_write", real)
    assert read_tree(project) == before


@contextlib.contextmanager
def _unwritable(path: Path) -> Iterator[None]:
    """Make ``path`` impossible to change: immutable as root (root ignores modes), else 0o555."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)


@pytest.mark.parametrize("what", ["wiring module", "package folder"])
def test_a_file_or_folder_that_cannot_be_changed_is_one_clear_error(
    runner: CliRunner, project: Path, what: str
) -> None:
    target = project / "demo_api" / ("_fastscaffold.py" if what == "wiring module" else "")
    before = read_tree(project)
    with _unwritable(target):
        code, output = _invoke(runner, project, "add", "greeting")
    assert code == 1, output
    assert f"Cannot write {project / 'demo_api'}/" in output
    assert "not permitted" in output or "Permission denied" in output
    assert "Hint:" in output and "Traceback" not in output
    assert read_tree(project) == before
