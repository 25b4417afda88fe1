"""`fastscaffold run` through the CLI, with the server process replaced by a recorder."""

import sys
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from fastscaffold import runner as runner_module
from fastscaffold.cli import app
from tests.helpers import free_port, listening_socket


class FakeServer:
    """Stands in for the uvicorn child process and records how it was started."""

    calls: ClassVar[list[tuple[list[str], Path]]] = []
    # Above the largest pid Linux hands out: `run` signalling this "group" reaches nobody.
    pid = 4_194_305

    def __init__(self, argv: list[str], cwd: Path) -> None:
        FakeServer.calls.append((argv, cwd))

    def wait(self, timeout: float | None = None) -> int:
        return 3


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> type[FakeServer]:
    FakeServer.calls = []
    monkeypatch.setattr(runner_module, "start_server", FakeServer)
    return FakeServer


def test_run_starts_uvicorn_in_the_project_and_returns_its_exit_code(
    runner: CliRunner, base_project: Path, fake_server: type[FakeServer]
) -> None:
    port = free_port()
    result = runner.invoke(app, ["run", "--project", str(base_project), "--port", str(port)])
    assert result.exit_code == 3, result.output
    [(argv, cwd)] = fake_server.calls
    assert argv[:4] == [sys.executable, "-m", "uvicorn", "demo_api.main:app"]
    assert argv[4:] == [
        "--host", "127.0.0.1", "--port", str(port),
        "--reload", "--reload-dir", str(base_project / "demo_api"),
    ]  # fmt: skip
    assert cwd == base_project
    for line in (f"http://127.0.0.1:{port}", "/docs", "/health", "reload on"):
        assert line in result.output


def test_run_finds_the_project_from_a_subfolder_and_reads_port_from_env(
    runner: CliRunner,
    base_project: Path,
    fake_server: type[FakeServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.chdir(base_project / "tests")
    monkeypatch.setenv("PORT", str(port))
    result = runner.invoke(app, ["run", "--workers", "2"])
    assert result.exit_code == 3, result.output
    argv = fake_server.calls[0][0]
    assert argv[argv.index("--port") + 1] == str(port)
    assert argv[-2:] == ["--workers", "2"] and "--reload" not in argv


def test_run_outside_a_project_says_what_it_looked_for(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--project", str(tmp_path)])
    assert result.exit_code == 1
    assert "No fastscaffold project found" in result.output
    assert "[tool.fastscaffold]" in result.output
    assert "Traceback" not in result.output


def test_run_with_the_port_in_use_is_refused(
    runner: CliRunner, base_project: Path, fake_server: type[FakeServer]
) -> None:
    port = free_port()
    with listening_socket(port):
        result = runner.invoke(app, ["run", "--project", str(base_project), "--port", str(port)])
    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.output
    assert fake_server.calls == []


def test_run_with_missing_dependencies_names_them_and_the_install_command(
    runner: CliRunner, tmp_path: Path, fake_server: type[FakeServer]
) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shop"\ndependencies = ["surely-not-installed-dist>=2"]\n'
        '[tool.fastapi]\nentrypoint = "shop.main:app"\n[tool.fastscaffold]\npackage = "shop"\n'
    )
    result = runner.invoke(app, ["run", "--project", str(tmp_path)])
    assert result.exit_code == 1
    assert "surely-not-installed-dist>=2" in result.output
    assert f"{sys.executable} -m pip install -e '.[dev]'" in result.output
    assert fake_server.calls == []


def test_invalid_port_is_a_usage_error(runner: CliRunner, base_project: Path) -> None:
    result = runner.invoke(app, ["run", "--project", str(base_project), "--port", "70000"])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output


def test_server_killed_by_a_signal_exits_like_a_shell_would(
    runner: CliRunner, base_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Killed(FakeServer):
        def wait(self, timeout: float | None = None) -> int:
            return -9

    monkeypatch.setattr(runner_module, "start_server", Killed)
    result = runner.invoke(app, ["run", "--project", str(base_project), "--port", str(free_port())])
    assert result.exit_code == 137
