"""Fuzz the API with schemathesis, from every OpenAPI document the app serves.

Deselected by default; run it with `pytest -m fuzz`. It serves the test app with
uvicorn on a free port (or fuzzes the server at `FUZZ_BASE_URL`, when set) and runs
`schemathesis run` on `/openapi.json` and on every other document the app serves
under a prefix of its paths (a versioned API's `/api/<version>/openapi.json`):
documented examples, boundary values, generated valid and invalid requests, then
chains of calls linked by the ids their responses hold, with every check. A 5xx,
a status, content type, header or body the document does not describe, invalid
input accepted or valid input refused fails the test, which prints schemathesis's
report: each failure with a curl command that reproduces it.

`FUZZ_EXAMPLES` is the budget: generated requests per operation, and scenarios of
chained calls (default 10). Runs are deterministic, so a run repeats the last one;
set `FUZZ_SEED` to an integer to explore other inputs. `FUZZ_REPORT_DIR` keeps each
document's JSON report there (openapi.report.json, api-v1-openapi.report.json, ...).
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI

MAIN_DOCUMENT = "/openapi.json"

# What schemathesis's positive_data_acceptance check takes as accepting valid data.
ACCEPTING = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

# Refusals of schema-valid input that OpenAPI cannot describe, so an operation that
# documents one may answer it to valid data too: 400 for a value the server did not
# issue or cannot take (a forged pagination cursor, an unsafe file name), 415 for a
# file whose bytes are not of an accepted type (the schema can only say "binary").
BEYOND_THE_SCHEMA = ("400", "415")

# The keys of a path item that are operations (it may also hold parameters, a summary...).
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def fuzz_examples() -> int:
    """Return the budget from `FUZZ_EXAMPLES`."""
    examples = int(os.environ.get("FUZZ_EXAMPLES", "10"))
    if examples < 1:
        msg = f"FUZZ_EXAMPLES must be a positive integer, not {examples}"
        raise ValueError(msg)
    return examples


def get_document(url: str) -> dict[str, Any] | None:
    """Return the OpenAPI document at ``url``, or None when it serves none."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            document = json.load(response)
    except (urllib.error.HTTPError, ValueError):
        return None
    is_openapi = isinstance(document, dict) and "openapi" in document and "paths" in document
    return document if is_openapi else None


def path_prefixes(paths: Iterable[str]) -> set[str]:
    """Return the static prefixes of ``paths``: /api and /api/v1 for /api/v1/users/{id}."""
    prefixes = set()
    for path in paths:
        segments = path.strip("/").split("/")[:-1]
        for end in range(1, len(segments) + 1):
            if "{" in segments[end - 1]:
                break
            prefixes.add("/" + "/".join(segments[:end]))
    return prefixes


def openapi_documents(base_url: str) -> dict[str, dict[str, Any]]:
    """Return the OpenAPI documents the server serves, by path, the main one first."""
    main = get_document(f"{base_url}{MAIN_DOCUMENT}")
    if main is None:
        pytest.fail(f"{base_url}{MAIN_DOCUMENT} serves no OpenAPI document (DOCS_ENABLED?)")
    documents = {MAIN_DOCUMENT: main}
    for prefix in sorted(path_prefixes(main["paths"])):
        path = f"{prefix}{MAIN_DOCUMENT}"
        document = get_document(f"{base_url}{path}")
        if document is not None:
            documents[path] = document
    return documents


def _toml(value: Any) -> str:
    # JSON strings, integers, booleans and arrays of them are valid TOML values.
    return json.dumps(value)


def schemathesis_config(document: dict[str, Any], base_url: str) -> str:
    """Return the schemathesis.toml for fuzzing ``document`` at ``base_url``."""
    lines = [
        f"base-url = {_toml(base_url)}",
        # One request at a time: chained calls see each other's effects, runs repeat.
        "workers = 1",
        # A slow answer or a stream that does not end is a failure, not a hang.
        "request-timeout = 10",
        "max-stream-events = 5",
        "[checks]",
        "enabled = true",
        "[phases.stateful]",
        "max-steps = 10",
    ]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            statuses = [s for s in BEYOND_THE_SCHEMA if s in operation.get("responses", {})]
            if not statuses:
                continue
            # By name ("POST /files"): an include-path and an include-method would
            # select every operation that matches either.
            lines += [
                "[[operations]]",
                f"include-name = {_toml(f'{method.upper()} {path}')}",
                "[operations.checks.positive_data_acceptance]",
                f"expected-statuses = {_toml(ACCEPTING + statuses)}",
            ]
    return "\n".join(lines) + "\n"


def report_name(document: str) -> str:
    """Return the name of ``document``'s report: openapi, api-v1-openapi, ..."""
    return document.strip("/").removesuffix(".json").replace("/", "-")


def fuzz(base_url: str, document: str, spec: dict[str, Any], folder: Path) -> str | None:
    """Run schemathesis on one document; return its report when it found failures."""
    name = report_name(document)
    config = folder / f"{name}.toml"
    config.write_text(schemathesis_config(spec, base_url), encoding="utf-8")
    report = Path(os.environ.get("FUZZ_REPORT_DIR") or folder) / f"{name}.report.json"
    seed = os.environ.get("FUZZ_SEED")
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{base_url}{document}", "--checks", "all", "--mode", "all",
        "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(fuzz_examples()),
        *(["--seed", str(int(seed))] if seed else ["--generation-deterministic"]),
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode == 0 and "No issues found" in done.stdout:
        return None
    return f"{document}:\n{done.stdout}{done.stderr}"


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """The URL of the server under test: `FUZZ_BASE_URL`, else the test app under uvicorn."""
    external = os.environ.get("FUZZ_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    sock = _free_socket()
    port = sock.getsockname()[1]
    # log_config=None keeps the app's own logging set-up; the lifespan runs as in production.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start the app within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.fuzz
def test_every_openapi_document_tells_the_truth_under_fuzzing(
    base_url: str, tmp_path: Path
) -> None:
    documents = openapi_documents(base_url)
    failures = [
        report
        for document, spec in documents.items()
        if (report := fuzz(base_url, document, spec, tmp_path)) is not None
    ]
    assert not failures, "schemathesis found failures in " + "\n\n".join(failures)


def test_prefixes_are_the_static_parents_of_each_path() -> None:
    paths = ["/health", "/api/v1/users/{user_id}", "/tasks/{task_id}/events", "/a/b/c"]
    assert path_prefixes(paths) == {"/api", "/api/v1", "/api/v1/users", "/tasks", "/a", "/a/b"}


def test_refusals_beyond_the_schema_are_accepted_only_where_documented() -> None:
    def operation(*statuses: str) -> dict[str, Any]:
        return {"responses": {status: {"description": status} for status in statuses}}

    document = {
        "openapi": "3.1.0",
        "info": {"title": "Files", "version": "1"},
        "paths": {
            "/files": {"post": operation("201", "415"), "get": operation("200")},
            "/files/{file_id}": {"get": operation("200", "404")},
            "/items": {"get": operation("200", "400", "422"), "parameters": []},
        },
    }
    config = schemathesis.Config.from_str(schemathesis_config(document, "http://127.0.0.1:1"))
    schema = schemathesis.openapi.from_dict(document, config=config)
    accepted = {
        f"{method} {path}": schema.config.checks_config_for(
            operation=schema[path][method]
        ).positive_data_acceptance.expected_statuses
        for path, method in [("/files", "POST"), ("/files", "GET"), ("/files/{file_id}", "GET"),
                             ("/items", "GET")]
    }  # fmt: skip
    assert accepted == {
        "POST /files": [*ACCEPTING, "415"],
        "GET /files": ACCEPTING,
        "GET /files/{file_id}": ACCEPTING,
        "GET /items": [*ACCEPTING, "400"],
    }
