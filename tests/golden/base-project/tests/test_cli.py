import json
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from golden_api.__main__ import cli

runner = CliRunner()

UvicornCalls = list[tuple[tuple[Any, ...], dict[str, Any]]]


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> UvicornCalls:
    """Record uvicorn.run calls instead of starting a server."""
    calls: UvicornCalls = []

    def fake_run(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def test_help_lists_the_commands() -> None:
    result = runner.invoke(cli, ["--help"])

    assert result.exit_code == 0, result.output
    for command in ("serve", "settings", "routes"):
        assert command in result.output


def test_serve_runs_uvicorn_with_the_settings(
    monkeypatch: pytest.MonkeyPatch, uvicorn_calls: UvicornCalls
) -> None:
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("WORKERS", "3")

    result = runner.invoke(cli, ["serve"])

    assert result.exit_code == 0, result.output
    [(args, kwargs)] = uvicorn_calls
    assert args == ("golden_api.main:app",)
    assert kwargs["host"] == "0.0.0.0"
    assert kwargs["port"] == 9000
    assert kwargs["workers"] == 3
    # uvicorn must not replace the app's logging configuration.
    assert kwargs["log_config"] is None


def test_serve_options_override_the_settings(
    monkeypatch: pytest.MonkeyPatch, uvicorn_calls: UvicornCalls
) -> None:
    monkeypatch.setenv("PORT", "9000")

    result = runner.invoke(cli, ["serve", "--host", "::", "--port", "8765", "--workers", "2"])

    assert result.exit_code == 0, result.output
    [(_, kwargs)] = uvicorn_calls
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("::", 8765, 2)


def test_serve_rejects_a_port_out_of_range(
    uvicorn_calls: UvicornCalls,
) -> None:
    result = runner.invoke(cli, ["serve", "--port", "0"])

    assert result.exit_code == 2
    assert uvicorn_calls == []


def test_settings_prints_the_effective_settings_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")

    result = runner.invoke(cli, ["settings"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["LOG_FORMAT"] == "json"
    assert printed["PORT"] == 8000


def test_invalid_settings_are_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "not-a-port")

    result = runner.invoke(cli, ["settings"])

    assert result.exit_code == 2
    assert "Invalid settings:" in result.stderr
    assert "PORT: Input should be a valid integer" in result.stderr
    assert "not-a-port" not in result.stderr
    assert "Traceback" not in result.output


def test_routes_lists_paths_with_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCS_ENABLED", "false")

    result = runner.invoke(cli, ["routes"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Patterns add their own routes; the base ones must be listed, docs must not.
    assert "GET          /health" in lines
    paths = {line.split()[-1] for line in lines}
    assert not paths & {"/docs", "/redoc", "/openapi.json"}
