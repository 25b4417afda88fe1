"""Keeping uv.lock in step: when it is re-locked, and what is said when it cannot be."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fastscaffold import venv
from fastscaffold.venv import LOCK_FILE, _steps, relock


def _fake_uv(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    uv = folder / "uv"
    uv.write_text(f"#!/bin/sh\n{script}\n")
    uv.chmod(0o755)
    return uv


def test_a_project_without_a_lock_is_left_alone(tmp_path: Path) -> None:
    assert relock(tmp_path) is None
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_without_uv_is_reported_with_the_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / LOCK_FILE).write_text("version = 1\n")
    monkeypatch.setattr(venv.shutil, "which", lambda _: None)
    problem = relock(tmp_path)
    assert problem is not None
    assert "uv is not on PATH" in problem
    assert "uv lock" in problem


def test_a_failed_relock_is_reported_with_uvs_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / LOCK_FILE).write_text("version = 1\n")
    bin_dir = tmp_path / "bin"
    _fake_uv(bin_dir, 'echo "No solution found: nothing satisfies fastapi>=999" >&2; exit 1')
    monkeypatch.setenv("PATH", str(bin_dir))
    problem = relock(tmp_path / ".")
    assert problem is not None
    assert "exit code 1" in problem
    assert "nothing satisfies fastapi>=999" in problem


def test_a_relock_runs_uv_lock_in_the_project_for_its_own_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    (project / LOCK_FILE).write_text("version = 1\n")
    record = tmp_path / "called"
    bin_dir = tmp_path / "bin"
    _fake_uv(bin_dir, f'echo "$PWD $* $UV_PROJECT_ENVIRONMENT" > {record}')
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "/elsewhere")
    assert relock(project) is None
    assert record.read_text().split() == [str(project), "lock", "--quiet", str(project / ".venv")]


def test_with_uv_the_venv_is_locked_then_synced_on_this_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venv.shutil, "which", lambda _: "/usr/bin/uv")
    installer, steps = _steps(tmp_path / ".venv", tmp_path / ".venv" / "bin" / "python")
    assert installer == "uv"
    assert [argv[:2] for _, argv in steps] == [["/usr/bin/uv", "lock"], ["/usr/bin/uv", "sync"]]
    assert "--locked" in steps[1][1]
    for _, argv in steps:
        assert argv[argv.index("--python") + 1] == sys.executable


def test_without_uv_pip_installs_the_dev_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(venv.shutil, "which", lambda _: None)
    installer, steps = _steps(tmp_path / ".venv", tmp_path / ".venv" / "bin" / "python")
    assert installer == "pip"
    assert steps[-1][1][-2:] == ["-e", ".[dev]"]
