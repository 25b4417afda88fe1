"""The versioning pattern end to end: cut v3, deprecate and retire against a real server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold.cli import app
from fastscaffold.creation import NewOptions, new_project
from tests.services import serve_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("versioning")
    options = NewOptions(name="api-e2e", parent=parent, patterns=("versioning",))
    return new_project(options).destination


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "api-e2e"
    shutil.copytree(generated, copy)
    return copy


def _fastscaffold(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--project", str(project)])
    return result.exit_code, result.output


def _run(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=project, capture_output=True, text=True, timeout=300
    )


def test_cutting_v3_keeps_v1_and_v2_byte_for_byte_and_the_project_green(project: Path) -> None:
    contracts = project / "tests" / "contracts"
    before = {p.name: p.read_bytes() for p in contracts.iterdir()}
    code, output = _fastscaffold(project, "api-version", "new")
    assert code == 0, output
    assert "Cut v3 from v2" in output
    assert {p.name: p.read_bytes() for p in contracts.iterdir() if p.name != "v3.json"} == before
    assert (project / "api_e2e" / "api" / "v3" / "routes.py").is_file()
    # The derived contract is exactly what the code serves, and nothing else moved.
    check = _run(project, "api_e2e", "api-contract", "--check", "v1", "v2", "v3")
    assert check.returncode == 0, check.stdout + check.stderr
    for argv in (
        ("ruff", "check", "--no-cache", "."),
        ("ruff", "format", "--check", "--no-cache", "."),
        ("mypy", "--strict"),
        ("pytest", "-q", "-p", "no:cacheprovider"),
    ):
        done = _run(project, *argv)
        assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    # Idempotent: v3 is not released, so a second bare `new` changes nothing.
    before_again = (project / "api_e2e" / "api" / "versions.toml").read_text()
    code, output = _fastscaffold(project, "api-version", "new")
    assert code == 0 and "not released yet: nothing to do" in output
    assert (project / "api_e2e" / "api" / "versions.toml").read_text() == before_again
    code, output = _fastscaffold(project, "api-version", "new", "v3")
    assert code == 0 and "v3 already exists" in output


def _get(url: str) -> tuple[int, Message, bytes]:
    """GET ``url``; the headers are looked up case-insensitively."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_deprecate_then_retire_against_a_real_server(project: Path, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"}
    code, output = _fastscaffold(
        project, "api-version", "deprecate", "v1", "--since", "2026-11-30",
        "--sunset", "2099-06-30", "--link", "https://example.com/api/v2/docs",
    )  # fmt: skip
    assert code == 0, output
    with serve_app(project, env=env) as served:
        status, headers, _ = _get(f"{served.url}/api/v1/users")
        assert status == 200
        assert headers["Deprecation"] == "@1795996800"  # 2026-11-30T00:00:00Z
        assert parsedate_to_datetime(headers["Sunset"]).year == 2099
        assert headers["Link"] == (
            '<https://example.com/api/v2/docs>; rel="deprecation", '
            '<https://example.com/api/v2/docs>; rel="sunset"'
        )
        assert "Deprecation" not in _get(f"{served.url}/api/v2/users")[1]
    code, output = _fastscaffold(project, "api-version", "retire", "v1")
    assert code == 0, output
    with serve_app(project, env=env) as served:
        status, headers, body = _get(f"{served.url}/api/v1/users")
        assert status == 410
        assert headers["Content-Type"] == "application/problem+json"
        assert "/api/v2/" in json.loads(body)["detail"]
        assert _get(f"{served.url}/api/v2/users")[0] == 200
        # Docs of every version stay readable, the retired one included.
        assert _get(f"{served.url}/api/v1/openapi.json")[0] == 200
    # The project's own tests skip what a retirement made unreachable, and pass.
    done = _run(project, "pytest", "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("retire", "v2"), "it is the latest version", 1),
        (("retire", "v9"), "There is no API version 'v9'", 1),
        (("deprecate", "v1", "--sunset", "2026-01-01", "--since", "2026-02-01"), "before the", 1),
        (("deprecate", "v1", "--sunset", "soon"), "is not a date", 2),
        (("deprecate", "v1", "--sunset", "2099-01-01", "--link", "ftp://x"), "Invalid --link", 1),
        (("new", "v1"), "v1 already exists", 0),
        (("new", "version3"), "Invalid version name", 1),
    ],
)
def test_bad_lifecycle_requests_change_nothing(
    project: Path, args: tuple[str, ...], message: str, exit_code: int
) -> None:
    before = (project / "api_e2e" / "api" / "versions.toml").read_text()
    code, output = _fastscaffold(project, "api-version", *args)
    assert message in output
    assert code == exit_code, output
    assert (project / "api_e2e" / "api" / "versions.toml").read_text() == before


def test_api_version_needs_the_versioning_pattern(base_project: Path) -> None:
    code, output = _fastscaffold(base_project, "api-version", "new")
    assert code == 1
    assert "fastscaffold add versioning" in output
