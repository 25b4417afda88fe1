"""The command as a whole: version, help, start-up cost."""

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fastscaffold import __version__
from fastscaffold.cli import app
from fastscaffold.cli.app import BoundaryGroup


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"fastscaffold {__version__}\n"


def test_python_dash_m_runs_the_same_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "fastscaffold", "--version"], capture_output=True, text=True
    )
    assert completed.returncode == 0
    assert completed.stdout == f"fastscaffold {__version__}\n"


def test_a_reader_that_stops_early_is_not_reported_as_an_error(runner: CliRunner) -> None:
    # `fastscaffold new --help | head -40`: head exits while the last lines are still
    # being written, and that write fails with EPIPE (seen as "Error: Cannot use
    # /work: Broken pipe."). Which write fails depends on timing, so a command here
    # raises it itself, behind the same error boundary.
    probe = typer.Typer(cls=BoundaryGroup)

    @probe.command()
    def emit() -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    @probe.command()
    def other() -> None:  # two commands, so that `emit` stays a subcommand
        """Never run."""

    result = runner.invoke(probe, ["emit"])
    assert result.exit_code == 1  # as click (and so Typer) exits on a broken pipe
    assert "Error" not in result.output and "Broken pipe" not in result.output


@pytest.mark.parametrize("command", ["new", "run", "add", "remove", "list", "show"])
def test_every_command_has_help_with_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"fastscaffold {command}" in result.output


@pytest.mark.parametrize("command", ["new", "deprecate", "retire"])
def test_api_version_commands_have_help_with_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, ["api-version", command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"fastscaffold api-version {command}" in result.output


def test_top_level_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("new", "run", "add", "remove", "list", "show", "api-version"):
        assert command in result.output


def test_help_does_not_import_the_heavy_modules() -> None:
    # What keeps `fastscaffold --help` fast (figures in docs/cli.md).
    code = (
        "import sys\n"
        "from fastscaffold.cli import app\n"
        "try:\n"
        "    app(['--help'], prog_name='fastscaffold')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'copier', 'jinja2', 'fastapi', 'uvicorn', 'pydantic'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_a_project_path_that_does_not_exist_says_so(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["check", "--project", str(missing)])
    assert result.exit_code == 1
    assert f"Error: {missing} does not exist." in result.output
    assert "any folder above it" not in result.output


def test_a_non_ascii_name_gets_the_real_reason(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "ünï", "--dir", str(tmp_path), "--no-input"])
    assert result.exit_code == 2
    assert "characters outside ASCII ('ü', 'ï')" in result.output
    assert "start with a letter" not in result.output
