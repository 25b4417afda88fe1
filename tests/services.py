"""Real services for end-to-end tests: redis-server, and a generated app under uvicorn.

Loaded by the top-level conftest (``pytest_plugins``), so the tests of every
pattern folder can use these fixtures.

Tests that need Redis fail, never skip, when ``redis-server`` is missing:
.ci/run installs it, and a silent skip would hide a broken CI set-up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for_http


@dataclass
class RedisServer:
    """A private redis-server on a loopback port, with its data in a temporary folder."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the ``redis://`` URL clients connect with."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed; install it (apt-get install redis-server), "
                "as .ci/run does."
            )
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket_to(self.port) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server did not answer on port {self.port} within 20 s")

    def stop(self) -> None:
        """Stop the server (the port stays reserved for a restart)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the server, stay down for ``down_for`` seconds, start it on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()


@contextlib.contextmanager
def socket_to(port: int) -> Iterator[socket.socket]:
    """Open a TCP connection to ``127.0.0.1:port`` (closed on exit)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh redis-server for one test, stopped afterwards."""
    server = RedisServer(folder=tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def find_postgres_program(name: str) -> str | None:
    """Return the path of a PostgreSQL server program, or None (Debian keeps them off PATH)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return shutil.which(name) or (str(candidates[0]) if candidates else None)


def _postgres_bin(name: str) -> str:
    """Return the path of a PostgreSQL server program; fail the test if it is not installed."""
    found = find_postgres_program(name)
    if found is None:
        pytest.fail(
            f"PostgreSQL's {name} is not installed; install it (apt-get install postgresql), "
            "as .ci/run does."
        )
    return found


@dataclass
class PostgresServer:
    """A private PostgreSQL server on a loopback port, its cluster in a temporary folder.

    ``initdb`` refuses to run as root, so as root the cluster belongs to the
    ``postgres`` user and the server runs as it (``runuser``). Durability is
    off (``fsync``, ``synchronous_commit``): tests need speed, not crash safety.
    """

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    databases: int = 0

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    @property
    def data(self) -> Path:
        """Return the cluster's data folder."""
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of ``database`` (asyncpg driver)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Create the cluster (once) and start the server; wait until it accepts connections."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, user="postgres")
        if not self.data.exists():
            done = subprocess.run(
                self._as_owner([_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                                "-A", "trust", "--no-sync", "-E", "UTF8"]),
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                pytest.fail(f"initdb failed: {done.stdout}{done.stderr}")
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        argv = [_postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port)]
        for name, value in options.items():
            argv += ["-c", f"{name}={value}"]
        self.process = subprocess.Popen(
            self._as_owner(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"PostgreSQL did not accept connections on port {self.port} within 30 s")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return its output (tuples only, unaligned)."""
        done = subprocess.run(
            [_postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"psql failed on {sql!r}: {done.stderr}")
        return done.stdout.strip()

    def new_database(self) -> str:
        """Create a fresh, empty database and return its URL."""
        self.databases += 1
        name = f"test_{os.getpid()}_{self.databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown); the cluster stays for a restart."""
        if self.process is not None and self.process.poll() is None:
            # pg_ctl signals the postmaster itself (its pid file): run as root, the
            # process we started is runuser, and a signal to it left the server
            # running as an orphan.
            subprocess.run(
                self._as_owner([_postgres_bin("pg_ctl"), "stop", "-D", str(self.data),
                                "-m", "fast", "-w", "-t", "20"]),
                capture_output=True, check=False,
            )  # fmt: skip
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def running_postgres(prefix: str = "fastscaffold-postgres-") -> Iterator[PostgresServer]:
    """Start a private PostgreSQL for the block; stop it and delete its folder after.

    Its folder is made directly in the system temp folder: pytest's own (or a
    benchmark's) is private to the user running it, and the server runs as
    postgres when that user is root.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server = PostgresServer(folder=folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL per test process; each test takes a database of its own."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database for one test."""
    return postgres_server.new_database()


@dataclass
class ServedApp:
    """A generated project's app served by a real uvicorn on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """Return the base ``http://`` URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return the base ``ws://`` URL."""
        return f"ws://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """Return the server's pid and its children's (the workers)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        found = [self.process.pid]
        with contextlib.suppress(OSError):
            found += [int(p) for p in children.read_text().split()]
        return found

    def peak_rss_bytes(self) -> int:
        """Return the largest peak resident memory (VmHWM) among the server's processes."""
        return max(peak_rss_bytes(pid) for pid in self.pids())


def peak_rss_bytes(pid: int) -> int:
    """Return a process's peak resident memory (VmHWM) in bytes, 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def serve_app(
    project: Path,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    extra_args: tuple[str, ...] = (),
    timeout: float = 60,
) -> Iterator[ServedApp]:
    """Serve ``project``'s app with uvicorn until the block ends, then stop it.

    Args:
        project: A generated project (its package must import from its root).
        env: Extra environment variables for the server.
        workers: uvicorn worker processes.
        extra_args: More uvicorn arguments.
        timeout: How long to wait for ``/health``.
    """
    from fastscaffold.project import load_project

    entrypoint = load_project(project).entrypoint
    with serve_uvicorn(
        entrypoint, project, env=env, workers=workers, extra_args=extra_args, timeout=timeout
    ) as served:
        yield served


# uvicorn arguments for servers whose logs nobody reads (the benchmarks').
QUIET = ("--log-level", "warning")


@contextlib.contextmanager
def serve_uvicorn(
    entrypoint: str,
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    extra_args: tuple[str, ...] = (),
    timeout: float = 60,
    python: str = sys.executable,
) -> Iterator[ServedApp]:
    """Serve any ASGI app (``module:attr``, imported from ``cwd``) like :func:`serve_app`.

    The benchmarks serve their naive reference apps with it too, so both
    sides of a comparison start, run and stop the same way; ``python`` is
    the interpreter (a generated project's own .venv in the benchmarks).
    """
    port = free_port()
    argv = [python, "-m", "uvicorn", entrypoint, "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), *extra_args]  # fmt: skip
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    served = ServedApp(process=process, port=port)
    try:
        wait_for_http(f"{served.url}/health", timeout=timeout)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
