"""The tasks API under hostile input, served by real uvicorn workers on SQLite and PostgreSQL.

A burst of concurrent submissions from many connections, against two worker
processes, must queue exactly ``TASKS_MAX_QUEUED`` tasks; out-of-range
cursors, impossible ids and malformed ``Last-Event-ID`` headers must get a
4xx problem or a complete event stream, never a 5xx or a stream cut short.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fastscaffold.creation import NewOptions, new_project
from tests.services import serve_app

pytestmark = pytest.mark.e2e

MAX_QUEUED = 50
SUBMISSIONS = 150


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("tasks-hostile")
    return new_project(
        NewOptions(name="tasks-hostile", parent=parent, patterns=("tasks",))
    ).destination


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of either engine."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def environment(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "TASKS_ENGINE": "embedded",
        "TASKS_CONCURRENCY": "0",  # nothing leaves the queue: the bound is all that matters
        "TASKS_MAX_QUEUED": str(MAX_QUEUED),
        "TASKS_POLL_SECONDS": "0.1",
    }


def request(base: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """One request on a new connection; return the status, the headers and the JSON body."""
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def test_concurrent_submissions_to_two_workers_queue_exactly_the_bound(
    project: Path, database_url: str
) -> None:
    with serve_app(project, env=environment(database_url), workers=2) as served:

        def submit(number: int) -> tuple[int, dict[str, str], Any]:
            body = {"job": "demo", "params": {"steps": number % 100 + 1}}
            return request(served.url, "POST", "/tasks", body)

        with ThreadPoolExecutor(max_workers=48) as pool:
            answers = list(pool.map(submit, range(SUBMISSIONS)))
        statuses = Counter(status for status, _, _ in answers)
        assert statuses == {202: MAX_QUEUED, 503: SUBMISSIONS - MAX_QUEUED}
        for status, headers, body in answers:
            if status == 503:
                assert headers["content-type"] == "application/problem+json"
                assert body["status"] == 503
                assert int(headers["retry-after"]) >= 1
        status, _, page = request(served.url, "GET", "/tasks?status=queued&limit=200")
        assert status == 200
        assert len(page["items"]) == MAX_QUEUED


def stream_events(base: str, path: str, last_event_id: bytes) -> tuple[int, str, bytes]:
    """GET an event stream with a raw ``Last-Event-ID``; read it to its end.

    http.client raises ``IncompleteRead`` when a chunked body is cut before
    its last chunk: reading it through means the server finished it.
    """
    host, _, port = base.removeprefix("http://").partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", path)
        connection.putheader("Last-Event-ID", last_event_id)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def test_hostile_cursors_ids_and_event_ids_get_4xx_or_a_whole_stream(
    project: Path, database_url: str
) -> None:
    with serve_app(project, env=environment(database_url)) as served:
        for cursor in ("9999999999999999999", "1" + "0" * 5000, "-1"):
            status, headers, body = request(served.url, "GET", f"/tasks?cursor={cursor}")
            assert status == 422, (cursor, body)
            assert headers["content-type"] == "application/problem+json"
        status, _, page = request(served.url, "GET", f"/tasks?cursor={2**63 - 1}")
        assert (status, page["items"]) == (200, [])
        for task_id in ("%00", "x" * 7000, "%E2%80%AE" * 20):
            status, headers, body = request(served.url, "GET", f"/tasks/{task_id}")
            assert status == 404, (task_id, body)
            assert headers["content-type"] == "application/problem+json"
            assert len(json.dumps(body)) < 1000

        status, _, task = request(served.url, "POST", "/tasks", {"job": "demo"})
        assert status == 202
        status, _, cancelled = request(served.url, "POST", f"/tasks/{task['id']}/cancel")
        assert (status, cancelled["status"]) == (202, "cancelled")
        for last_event_id in (b"\xb2", b"9" * 5000, b"99999999999999999999", b"-1"):
            status, content_type, raw = stream_events(
                served.url, f"/tasks/{task['id']}/events", last_event_id
            )
            assert status == 200, (last_event_id, raw)
            assert content_type.startswith("text/event-stream")
            data = [line for line in raw.decode().splitlines() if line.startswith("data: ")]
            assert [json.loads(line[6:])["status"] for line in data] == ["cancelled"]
