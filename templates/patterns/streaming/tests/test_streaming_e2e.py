"""The streaming pattern against a real server: a million rows from SQLite.

One project is generated and seeded (with its own `seed-items` command) per
module, and served by uvicorn. The tests check what only a streaming design
achieves: the server's peak memory stays flat while a million rows go out,
the first byte comes long before the end, and a client that leaves mid-stream
gives its export slot back. The measured figures are in
docs/benchmarks/streaming.md (python -m benchmarks.streaming).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from fastscaffold.creation import NewOptions, new_project
from tests.services import ServedApp, serve_app

pytestmark = pytest.mark.e2e

ROWS = 1_000_000
MiB = 1024 * 1024


@dataclass(frozen=True)
class Download:
    status: int
    headers: httpx2.Headers
    body_lines: int
    bytes: int
    first_byte: float
    total: float


def download(url: str) -> Download:
    """Stream `url`, counting lines without keeping the body."""
    started = time.perf_counter()
    first_byte = 0.0
    lines = size = 0
    with httpx2.Client(timeout=120) as client, client.stream("GET", url) as response:
        for chunk in response.iter_raw():
            if not first_byte:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
            size += len(chunk)
        return Download(
            response.status_code,
            response.headers,
            lines,
            size,
            first_byte,
            time.perf_counter() - started,
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("stream-e2e")
    options = NewOptions(name="stream-e2e", parent=parent, patterns=("streaming",))
    return new_project(options).destination


@pytest.fixture(scope="module")
def database_url(project: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('stream-db') / 'app.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "stream_e2e", "seed-items", "--rows", str(ROWS)],
        cwd=project,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Inserted {ROWS:,} items" in result.stdout
    return url


@pytest.fixture(scope="module")
def server(project: Path, database_url: str) -> Iterator[ServedApp]:
    env = {
        "DATABASE_URL": database_url,
        "EXPORT_MAX_CONCURRENT": "1",
        "EXPORT_RETRY_AFTER_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
    }
    with serve_app(project, env=env) as served:
        yield served


def test_a_million_rows_stream_with_flat_memory_and_an_early_first_byte(
    server: ServedApp,
) -> None:
    # Warm up (imports, first connection), then take the idle high-water mark.
    assert download(f"{server.url}/exports/items.csv?limit=10").body_lines == 11
    idle = server.peak_rss_bytes()

    result = download(f"{server.url}/exports/items.csv")

    assert result.status == 200
    assert result.body_lines == ROWS + 1  # the header, then one line per row
    assert result.headers["content-disposition"].startswith('attachment; filename="items-')
    growth = server.peak_rss_bytes() - idle
    print(
        f"\n{ROWS:,} rows, {result.bytes / MiB:.0f} MiB: first byte {result.first_byte * 1000:.0f}"
        f" ms, {ROWS / result.total:,.0f} rows/s, peak RSS {idle / MiB:.0f} MiB idle"
        f" + {growth / MiB:.1f} MiB"
    )
    # Fetching everything first holds the whole result (~450 MiB for these rows);
    # streaming holds a batch and a chunk.
    assert growth < 64 * MiB
    # Fetch-everything sends its first byte just before the end; streaming sends
    # it after one batch (about 1% of the way here; a tenth leaves room for a loaded
    # machine. The figures are in docs/benchmarks/streaming.md).
    assert result.first_byte < result.total / 10


def test_ndjson_streams_the_filtered_rows(server: ServedApp) -> None:
    result = download(f"{server.url}/exports/items.ndjson?min_id=900001")
    assert result.status == 200
    assert result.headers["content-type"] == "application/jsonl"
    assert result.body_lines == 100_000


def _start_download(server: ServedApp) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"GET /exports/items.csv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received = b""
    while len(received) < 256 * 1024:
        received += sock.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 ")
    return sock


def test_a_client_leaving_mid_stream_releases_its_export_slot(server: ServedApp) -> None:
    for _ in range(3):  # repeatedly: a leak would exhaust the single slot
        sock = _start_download(server)
        try:
            busy = httpx2.get(f"{server.url}/exports/items.csv?limit=1", timeout=30)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "3"
        finally:
            sock.close()  # the client goes away mid-stream

        # The server notices, stops reading the database and frees the slot.
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline:
            status = httpx2.get(f"{server.url}/exports/items.csv?limit=1", timeout=30).status_code
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200
