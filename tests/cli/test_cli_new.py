"""`fastscaffold new` through the CLI: exit codes, messages, and what is (not) written."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold import creation
from fastscaffold.cli import app
from fastscaffold.plan import StagedFile


def _new(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["new", *args])
    return result.exit_code, result.output


def test_new_creates_a_recorded_project_and_says_what_next(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, output = _new(runner, "shop-api", "--dir", str(tmp_path), "--no-input")
    assert code == 0, output
    project = tmp_path / "shop-api"
    assert (project / "shop_api" / "main.py").is_file()
    assert (project / "shop_api" / "_fastscaffold.py").is_file()
    assert (
        "Created" in output and "fastscaffold run" in output and "pip install -e '.[dev]'" in output
    )
    record = json.loads((project / ".fastscaffold" / "record.json").read_text())
    assert record["units"]["project"]["answers"]["package_name"] == "shop_api"
    assert set(record["files"]) == {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and not p.relative_to(project).as_posix().startswith(".fastscaffold/")
    }
    # Nothing but the project was left in the parent (no staging folder).
    assert [p.name for p in tmp_path.iterdir()] == ["shop-api"]


def test_description_option_is_used_without_asking(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--description", "Sells things")
    assert code == 0, output
    assert 'description = "Sells things"' in (tmp_path / "shop" / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape", "looks like a path"),
        ("", "it is empty"),
        ("class", "Python keyword"),
        ("typing", "shadow the standard library"),
        ("fastapi", "shadow a dependency"),
        ("9lives", "must start with a letter"),
    ],
)
def test_invalid_names_exit_2_with_a_message_and_write_nothing(
    runner: CliRunner, tmp_path: Path, name: str, message: str
) -> None:
    code, output = _new(runner, name, "--dir", str(tmp_path), "--no-input")
    assert code == 2
    assert "Error:" in output and message in output and "Hint:" in output
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_invalid_answer_exits_2_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--description", " ")
    assert code == 2
    assert "The description cannot be empty" in output
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_refused_and_left_untouched(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine\n")
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input")
    assert code == 1
    assert "already exists and is not empty; nothing was changed" in output
    assert "--force" in output
    assert [p.name for p in (tmp_path / "shop").iterdir()] == ["notes.txt"]


def test_an_empty_existing_folder_is_used(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input")
    assert code == 0, output
    assert (tmp_path / "shop" / "pyproject.toml").is_file()


def test_force_lists_replaced_files_first_backs_them_up_and_deletes_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    (project / "notes.txt").write_text("mine\n")
    (project / "README.md").write_text("# my own readme\n")
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input", "--force")
    assert code == 0, output
    assert "1 existing file(s) will be replaced" in output
    assert "~ README.md" in output
    assert output.index("~ README.md") < output.index("Created")
    assert (project / "notes.txt").read_text() == "mine\n"
    assert (project / ".fastscaffold" / "backup" / "README.md").read_text() == "# my own readme\n"
    assert (project / "README.md").read_text() != "# my own readme\n"


def test_dry_run_prints_the_tree_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input", "--dry-run")
    assert code == 0, output
    assert "dry run: nothing written" in output
    assert "shop/" in output and "main.py" in output and "pyproject.toml" in output
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_folder_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _new(runner, "shop", "--dir", str(tmp_path / "nope"), "--no-input")
    assert code == 1
    assert "does not exist" in output
    assert not (tmp_path / "nope").exists()


def test_unwritable_parent_folder_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    if os.geteuid() == 0:
        # Root ignores permission bits; the immutable attribute stops even root.
        locked = subprocess.run(["chattr", "+i", str(parent)], check=False).returncode == 0
        unlock = ["chattr", "-i", str(parent)]
    else:
        parent.chmod(0o555)
        locked, unlock = True, ["chmod", "755", str(parent)]
    if not locked:
        pytest.skip("this file system cannot make a folder unwritable for root")
    try:
        code, output = _new(runner, "shop", "--dir", str(parent), "--no-input")
    finally:
        subprocess.run(unlock, check=True)
    assert code == 1
    assert f"Cannot write to {parent}" in output
    assert list(parent.iterdir()) == []


def test_ctrl_c_while_generating_leaves_nothing_and_exits_130(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree = creation._write_tree

    def interrupted(folder: Path, files: dict[str, StagedFile]) -> None:
        write_tree(folder, dict(list(files.items())[:3]))  # Ctrl-C halfway through writing
        raise KeyboardInterrupt

    monkeypatch.setattr(creation, "_write_tree", interrupted)
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input")
    assert code == 130
    assert "Aborted." in output
    assert list(tmp_path.iterdir()) == []


def test_failed_venv_setup_removes_the_new_project(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No uv, and a python whose venv module fails: the set-up step fails for real.
    monkeypatch.setattr(creation.create_venv.__globals__["shutil"], "which", lambda _: None)
    monkeypatch.setattr(creation.create_venv.__globals__["sys"], "executable", "/bin/false")
    code, output = _new(runner, "shop", "--dir", str(tmp_path), "--no-input", "--venv")
    assert code == 1
    assert "Creating .venv failed (exit code 1)" in output
    assert list(tmp_path.iterdir()) == []
