"""The service fixtures themselves: a real redis-server that restarts, a served project."""

import socket
from pathlib import Path

import pytest

from tests.helpers import wait_for_http
from tests.services import PostgresServer, RedisServer, serve_app

pytestmark = pytest.mark.e2e


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16)


def test_redis_server_answers_and_restarts_on_the_same_port(redis_server: RedisServer) -> None:
    assert _ping(redis_server.port) == b"+PONG\r\n"
    redis_server.stop()
    with pytest.raises(OSError):
        _ping(redis_server.port)
    redis_server.start()
    assert _ping(redis_server.port) == b"+PONG\r\n"
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"


def test_serve_app_serves_a_generated_project_and_reports_memory(base_project: Path) -> None:
    with serve_app(base_project, workers=2) as app:
        status, body = wait_for_http(f"{app.url}/health")
        assert (status, body) == (200, b'{"status":"ok"}')
        # The supervisor, two workers (and multiprocessing's helper process).
        assert len(app.pids()) >= 3
        assert app.peak_rss_bytes() > 10 * 1024 * 1024
    assert app.process.poll() is not None


def test_postgres_server_gives_each_test_its_own_database(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.new_database(), postgres_server.new_database()
    assert first != second and first.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    name = first.rsplit("/", 1)[1]
    postgres_server.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)", database=name)
    assert postgres_server.psql("SELECT x FROM t", database=name) == "42"
    assert postgres_server.psql("SHOW fsync") == "off"
