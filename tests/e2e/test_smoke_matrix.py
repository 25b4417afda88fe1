"""CI smoke matrix: generated projects meet fastscaffold's own bar.

For the base project, each shipped pattern alone, all of them together, and
`new` followed by `add` of each, it runs `ruff check`, `ruff format --check`,
`mypy --strict`, the project's own tests, `fastscaffold check` and `docker
compose config` on its compose.yaml; the all-patterns project's tests run a second time on a real
PostgreSQL and Redis, as the generated CI workflow's scale-out job does. The fixture patterns of the
engine tests join the matrix too (added with `new --with`, and with `add` to
a project whose main.py the user has edited, and removed again). Each project is generated once
per session and shared by its checks.

The matrix is built on fastscaffold.testing, the library behind the pytest
plugin that pattern authors use: what it offers them is what proves the
shipped patterns here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fastscaffold.testing import GeneratedProject, generate
from tests.helpers import REPO_ROOT, run_project_tests
from tests.services import PostgresServer, RedisServer

pytestmark = pytest.mark.e2e

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "patterns"


@dataclass(frozen=True)
class Scenario:
    """How to build one project of the matrix."""

    id: str
    with_patterns: tuple[str, ...] = ()
    name: str = "smoke-api"
    added_later: tuple[str, ...] = ()
    removed_later: tuple[str, ...] = ()
    fixtures: bool = False
    edit_main: bool = False


def shipped_patterns() -> list[str]:
    """The user-facing patterns fastscaffold ships (read from their folders).

    Building blocks are not listed: every pattern that needs one brings it,
    so they are checked alone with each of those patterns.
    """
    names = []
    for manifest in sorted((REPO_ROOT / "templates" / "patterns").glob("*/pattern.toml")):
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        if data.get("kind", "pattern") == "pattern":
            names.append(data["name"])
    return names


def scenarios() -> list[Scenario]:
    shipped = shipped_patterns()
    matrix = [Scenario("base")]
    matrix += [Scenario(f"with-{name}", with_patterns=(name,)) for name in shipped]
    if len(shipped) > 1:
        # With the longest name `new` accepts: every template line that names
        # the package must still fit ruff's line length.
        longest = "a" * 36 + "-api"
        matrix.append(Scenario("with-all-longest-name", with_patterns=tuple(shipped), name=longest))
    if shipped:
        matrix.append(Scenario("new-then-add-each", added_later=tuple(shipped), edit_main=True))
    matrix += [
        Scenario("fixture-with-greeting", with_patterns=("greeting",), fixtures=True),
        Scenario("fixture-new-then-add", added_later=("greeting",), fixtures=True, edit_main=True),
        Scenario(
            "fixture-add-then-remove",
            with_patterns=("greeting",),
            removed_later=("greeting",),
            fixtures=True,
        ),
    ]
    return matrix


SCENARIOS = scenarios()
_built: dict[str, GeneratedProject] = {}

PING_ROUTE = (
    '\n\n@app.get("/ping")\nasync def ping() -> str:\n'
    '    """Answer a liveness probe."""\n    return "pong"\n'
)


def _build(scenario: Scenario, parent: Path) -> GeneratedProject:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FASTSCAFFOLD_PATTERNS_PATH", raising=False)
        if scenario.fixtures:
            patch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(FIXTURES))
        project = generate(parent, name=scenario.name, patterns=scenario.with_patterns)
        if scenario.edit_main:
            project.edit(f"{project.package}/main.py", lambda text: text + PING_ROUTE)
        for name in scenario.added_later:
            project.add(name)
        if scenario.removed_later:
            project.remove(*scenario.removed_later)
    return project


@pytest.fixture(params=SCENARIOS, ids=[s.id for s in SCENARIOS])
def generated(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> GeneratedProject:
    scenario: Scenario = request.param
    # A project with a team's pattern is checked with that pattern in reach, as its CI would.
    monkeypatch.delenv("FASTSCAFFOLD_PATTERNS_PATH", raising=False)
    if scenario.fixtures:
        monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(FIXTURES))
    if scenario.id not in _built:
        _built[scenario.id] = _build(scenario, tmp_path_factory.mktemp(scenario.id))
    return _built[scenario.id]


def test_ruff_check_is_clean(generated: GeneratedProject) -> None:
    done = generated.run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean(generated: GeneratedProject) -> None:
    done = generated.run("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per test process: the libraries are analysed once, not per project."""
    return tmp_path_factory.mktemp("mypy-cache")


def test_mypy_strict_is_clean(generated: GeneratedProject, mypy_cache: Path) -> None:
    # The project's configuration says strict = true; --strict makes sure of it.
    done = generated.run("mypy", "--strict", "--cache-dir", str(mypy_cache))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_the_projects_own_tests_pass(generated: GeneratedProject) -> None:
    done = run_project_tests(generated.python, generated.root)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " FAILED" not in done.stdout


def test_fastscaffold_check_passes(generated: GeneratedProject) -> None:
    # What the generated workflow's `fastscaffold check` step asks in CI: nothing
    # behind the installed templates, no unresolved conflict left by add/remove.
    report = generated.check()
    assert report.ok, report


def _compose_command() -> list[str]:
    """Return the command that validates a compose file: Docker's plugin, else docker-compose."""
    if shutil.which("docker") is not None:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    pytest.fail("Neither `docker compose` nor docker-compose is installed (.ci/run installs it).")


def test_the_compose_file_is_valid_and_has_the_patterns_services(
    generated: GeneratedProject,
) -> None:
    compose = generated.root / "compose.yaml"
    done = subprocess.run(
        [*_compose_command(), "-f", str(compose), "config", "-q"],
        capture_output=True, text=True, cwd=generated.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    services = set(yaml.safe_load(compose.read_text())["services"])
    record = (generated.root / ".fastscaffold" / "record.json").read_text()
    assert "api" in services
    assert ("postgres" in services) == ('"database"' in record) == ("migrate" in services)
    assert ("redis" in services) == ('"redis": {' in record)
    assert ("worker" in services) == ('"tasks": {' in record)


def test_the_all_patterns_projects_tests_pass_on_postgres_and_redis(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    project = generate(tmp_path, name="scale-api", patterns=shipped_patterns())
    env = {**os.environ, "DATABASE_URL": postgres_server.new_database()}
    env["REDIS_URL"] = redis_server.url
    done = run_project_tests(project.python, project.root, env=env)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " FAILED" not in done.stdout
