"""Fuzzing in the suite: schemathesis against the all-patterns app under a real uvicorn.

The app of `new demo --all` is served as in production and the project's own
fuzz test (tests/test_fuzz.py, `pytest -m fuzz`) runs against it: schemathesis
on the main and on every per-version OpenAPI document, with every check, its
examples, coverage, fuzzing and stateful phases (links inferred between the
operations). Any 5xx, schema violation, undocumented status or content type
fails the test, which shows schemathesis's report: a curl command per failure.
The budget (FUZZ_EXAMPLES) and the derandomised generation keep a run short
and repeatable in CI. A second test proves the harness fails: routes that lie
about their answers in each of those ways are all reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fastscaffold.catalog import load_catalog
from fastscaffold.creation import NewOptions, new_project
from tests.services import serve_app

pytestmark = pytest.mark.e2e

# Generated requests per operation and stateful scenarios per document: about
# two minutes for the all-patterns app on two cores.
EXAMPLES = 10


LYING_ROUTES = '''

from fastapi.responses import JSONResponse, PlainTextResponse


@app.get("/lies/server-error")
async def server_error() -> dict[str, int]:
    """Fail with a 500."""
    raise RuntimeError("boom")


@app.get("/lies/status")
async def undocumented_status() -> JSONResponse:
    """Answer a status the document does not list."""
    return JSONResponse({"count": 1}, status_code=418)


@app.get("/lies/content-type")
async def undocumented_content_type() -> PlainTextResponse:
    """Answer text where the document says JSON."""
    return PlainTextResponse("count=1")


@app.get("/lies/schema", response_model=dict[str, int])
async def schema_violation() -> JSONResponse:
    """Answer a body the documented schema refuses."""
    return JSONResponse({"count": "one"})
'''


def _pattern_names() -> tuple[str, ...]:
    return tuple(p.name for p in load_catalog().values() if p.manifest.kind == "pattern")


def _fuzz(project: Path, reports: Path) -> subprocess.CompletedProcess[str]:
    """Serve ``project`` with uvicorn and run its fuzz test against it."""
    reports.mkdir()
    with serve_app(project) as served:
        env = {**os.environ, "FUZZ_BASE_URL": served.url, "FUZZ_REPORT_DIR": str(reports)}
        env["FUZZ_EXAMPLES"] = str(EXAMPLES)
        env.pop("FUZZ_SEED", None)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "fuzz", "-q", "-p", "no:cacheprovider",
             "tests/test_fuzz.py"],
            cwd=project, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip


def _documents(project: Path) -> set[str]:
    """Return the reports to expect: the app's own document and one per API version."""
    versions = tomllib.loads((project / "demo" / "api" / "versions.toml").read_text("utf-8"))
    assert len(versions["versions"]) >= 2
    return {"openapi"} | {f"api-{version}-openapi" for version in versions["versions"]}


def _reports(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name.removesuffix(".report.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in folder.glob("*.report.json")
    }


def test_schemathesis_finds_nothing_in_the_all_patterns_app(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    parent = tmp_path_factory.mktemp("fuzz-all")
    project = new_project(NewOptions(name="demo", parent=parent, patterns=_pattern_names()))
    done = _fuzz(project.destination, tmp_path / "reports")
    assert done.returncode == 0, done.stdout[-60000:] + done.stderr[-3000:]
    reports = _reports(tmp_path / "reports")
    assert set(reports) == _documents(project.destination)
    for name, report in reports.items():
        phases = report["phases"]
        # Every phase that generates requests ran, stateful links included.
        for phase in ("coverage", "fuzzing", "stateful"):
            assert phases[phase]["status"] == "success", (name, phase, phases[phase])
        assert report["failures"] == [] and report["errors"] == [], name


def test_the_fuzz_test_reports_every_kind_of_lie(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    parent = tmp_path_factory.mktemp("fuzz-lies")
    project = new_project(NewOptions(name="liar", parent=parent)).destination
    main = project / "liar" / "main.py"
    main.write_text(main.read_text(encoding="utf-8") + LYING_ROUTES, encoding="utf-8")
    done = _fuzz(project, tmp_path / "reports")
    assert done.returncode == 1, done.stdout[-20000:] + done.stderr[-3000:]
    failures = _reports(tmp_path / "reports")["openapi"]["failures"]
    found = {
        (failure["title"], operation) for failure in failures for operation in failure["operations"]
    }
    assert {
        ("Server error", "GET /lies/server-error"),
        ("Undocumented status code", "GET /lies/status"),
        ("Undocumented Content-Type", "GET /lies/content-type"),
        ("Response violates schema", "GET /lies/schema"),
    } <= found
    # The report the developer reads names each of them with a reproduction.
    for path in ("server-error", "status", "content-type", "schema"):
        assert f"/lies/{path}" in done.stdout
    assert "curl -X GET" in done.stdout
