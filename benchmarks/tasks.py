"""Background tasks: no-op jobs/s through the `tasks` pattern, next to huey and plain taskiq.

Run: python -m benchmarks.tasks [--quick]

N no-op jobs (2,000; 300 with --quick), four at a time, from the first
submission to the last job finished, in interleaved rounds (`harness.interleave`:
3, or 2 with --quick; fresh files, and an empty Redis, every round). The contenders:

- ours, embedded engine (SQLite file, four in-process workers), driven through
  its Python API (benchmarks/peers/tasks_service_layer.py: ``TaskService.submit``
  for every job, all at once);
- ours, embedded engine on PostgreSQL: the same, the tasks in a private
  PostgreSQL (tests/services.py's `running_postgres`, a fresh database every
  round), for what a user running on PostgreSQL gets (no target: huey has no
  PostgreSQL storage to compare with);
- ours, embedded engine, over HTTP: a real uvicorn serving the generated app,
  a client posting with four connections and then reading the queue's state;
- huey's ``SqliteHuey`` with its consumer, four worker threads
  (benchmarks/peers/tasks_huey.py): the peer for the embedded engine;
- a raw ``sqlite3`` lease queue, one transaction per state change, FULL
  (benchmarks/peers/tasks_sqlite_lease.py): the limit of the storage alone;
- ours, taskiq engine: the service layer submitting, one separate ``worker``
  process with four jobs at a time, SQLite for the tasks, a private redis-server;
- plain taskiq on the same redis-server (benchmarks/peers/tasks_taskiq.py:
  ``RedisStreamBroker`` and ``RedisAsyncResultBackend``), its worker started as
  ``taskiq worker ... --workers 1 --max-async-tasks 4``.

Every process shares the machine's cores with the others of its contender.
Each contender starts after ``os.sync()``: the writes of the one before (the
PostgreSQL server, which runs through every round with fsync off, leaves
them in the page cache) are not flushed to disk while the next one measures
fsynced commits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx2

from benchmarks.harness import (
    BenchProject,
    Figure,
    bench_project,
    interleave,
    machine_details,
    render_table,
    scaled,
)

# Programs run besides Python (a private redis-server and PostgreSQL): checked before a run starts.
NEEDS = ("redis-server", "initdb")

REPO_ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 4
NOOP = "bench-noop"  # the job benchmarks/peers/tasks_service_layer.py registers
SERVICE_LAYER = "benchmarks.peers.tasks_service_layer"

Result = dict[str, float]


def _json_line(argv: list[str], cwd: Path, env: Mapping[str, str]) -> Result:
    """Run a measuring process; return the JSON line it printed last."""
    done = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    result: Result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def _background(
    argv: list[str], cwd: Path, env: Mapping[str, str], log: Path, ready: str
) -> Iterator[None]:
    """Run a worker process until the block ends; wait for ``ready`` in its output first."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.02)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _over_http(base: str, jobs: int) -> Result:
    """Post ``jobs`` no-op jobs with CONCURRENCY connections; wait until none is left."""
    limits = httpx2.Limits(max_connections=CONCURRENCY)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def submit() -> None:
            async with semaphore:
                (await client.post("/tasks", json={"job": NOOP, "params": {}})).raise_for_status()

        async def left(status: str) -> bool:
            page = (await client.get("/tasks", params={"status": status, "limit": 1})).json()
            return bool(page["items"])

        started = time.perf_counter()
        await asyncio.gather(*(submit() for _ in range(jobs)))
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 300
        while await left("queued") or await left("running"):
            if time.monotonic() > deadline:
                raise RuntimeError("the jobs did not finish within 300 s")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        if await left("failed"):
            raise RuntimeError("a no-op job failed")
    return {"jobs_per_s": jobs / elapsed, "submitted_per_s": jobs / submitted}


class Contenders:
    """Each contender, runnable once per round against fresh files."""

    def __init__(
        self,
        bench: BenchProject,
        folder: Path,
        redis_url: str,
        jobs: int,
        new_postgres_database: Callable[[], str],
    ) -> None:
        self.bench = bench
        self.folder = folder
        self.redis_url = redis_url
        self.jobs = jobs
        self.new_postgres_database = new_postgres_database
        self._numbers = itertools.count()
        # The project's interpreter may be its own virtualenv: it finds the peers here.
        self.base_env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), str(bench.root)])),
            "REDIS_URL": "",
            "TASKS_CONCURRENCY": str(CONCURRENCY),
            "TASKS_POLL_SECONDS": "0.05",
            "TASKS_MAX_QUEUED": str(max(10_000, jobs)),
            "LOG_LEVEL": "WARNING",
        }

    def _fresh(self, name: str) -> Path:
        return self.folder / f"{name}-{next(self._numbers)}.db"

    def _flush_redis(self) -> None:
        from redis import Redis

        with Redis.from_url(self.redis_url) as redis:
            redis.flushall()

    def _service_layer(self, database_url: str) -> Result:
        env = {**self.base_env, "DATABASE_URL": database_url}
        argv = [self.bench.python, "-m", SERVICE_LAYER, self.bench.package, str(self.jobs)]
        return _json_line(argv, self.bench.root, env)

    def embedded_service(self) -> Result:
        """Ours, embedded, through ``TaskService.submit`` (its own process)."""
        return self._service_layer(f"sqlite+aiosqlite:///{self._fresh('ours')}")

    def embedded_postgres(self) -> Result:
        """Ours, embedded, through ``TaskService.submit``, the tasks in PostgreSQL."""
        return self._service_layer(self.new_postgres_database())

    def embedded_http(self) -> Result:
        """Ours, embedded, served by uvicorn and loaded over HTTP."""
        from tests.services import QUIET, serve_uvicorn

        env = {
            **self.base_env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self._fresh('http')}",
            "BENCH_ENTRYPOINT": self.bench.entrypoint,
        }
        with serve_uvicorn(
            f"{SERVICE_LAYER}:http_app",
            self.bench.root,
            env=env,
            extra_args=("--factory", *QUIET),
            python=self.bench.python,
        ) as served:
            return asyncio.run(_over_http(served.url, self.jobs))

    def huey(self) -> Result:
        """The peer: SqliteHuey and its thread consumer."""
        argv = [sys.executable, "-m", "benchmarks.peers.tasks_huey", str(self._fresh("huey")),
                str(self.jobs)]  # fmt: skip
        return _json_line(argv, REPO_ROOT, {})

    def sqlite_lease(self) -> Result:
        """The raw sqlite3 lease queue (the storage's limit)."""
        argv = [sys.executable, "-m", "benchmarks.peers.tasks_sqlite_lease",
                str(self._fresh("lease")), str(self.jobs), "FULL"]  # fmt: skip
        return _json_line(argv, REPO_ROOT, {})

    def taskiq_ours(self) -> Result:
        """Ours, taskiq engine: a submitting process and one worker process."""
        self._flush_redis()
        env = {
            **self.base_env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self._fresh('taskiq')}",
            "REDIS_URL": self.redis_url,
            "TASKS_ENGINE": "taskiq",
        }
        worker = [self.bench.python, "-m", SERVICE_LAYER, self.bench.package, "worker"]
        log = self.folder / "taskiq-ours-worker.log"
        with _background(worker, self.bench.root, env, log, "worker started"):
            argv = [self.bench.python, "-m", SERVICE_LAYER, self.bench.package, str(self.jobs)]
            return _json_line(argv, self.bench.root, env)

    def taskiq_plain(self) -> Result:
        """Plain taskiq: its own worker command and a client waiting for results."""
        self._flush_redis()
        env = {"BENCH_REDIS_URL": self.redis_url, "PYTHONPATH": str(REPO_ROOT)}
        worker = [sys.executable, "-m", "taskiq", "worker", "benchmarks.peers.tasks_taskiq:broker",
                  "--workers", "1", "--max-async-tasks", str(CONCURRENCY)]  # fmt: skip
        log = self.folder / "taskiq-plain-worker.log"
        with _background(worker, REPO_ROOT, env, log, "Listening started"):
            argv = [sys.executable, "-m", "benchmarks.peers.tasks_taskiq", str(self.jobs)]
            return _json_line(argv, REPO_ROOT, env)


def _settled(contender: Callable[[], Result]) -> Callable[[], Result]:
    """Return ``contender``, run once the disk has every write made before it."""

    def settled() -> Result:
        os.sync()
        return contender()

    return settled


def run(quick: bool) -> list[Figure]:
    """Measure every contender in interleaved rounds; return the figures."""
    from tests.services import RedisServer, running_postgres

    jobs = scaled(300) if quick else scaled(2000)
    rounds = 2 if quick else 3
    with (
        tempfile.TemporaryDirectory(prefix="bench-tasks-") as folder,
        bench_project("tasks") as bench,
        running_postgres("bench-tasks-pg-") as postgres,
    ):
        redis = RedisServer(folder=Path(folder))
        redis.start()
        try:
            contenders = Contenders(bench, Path(folder), redis.url, jobs, postgres.new_database)
            measured: dict[str, Callable[[], Result]] = {
                "embedded_service": contenders.embedded_service,
                "embedded_postgres": contenders.embedded_postgres,
                "embedded_http": contenders.embedded_http,
                "huey": contenders.huey,
                "sqlite_lease": contenders.sqlite_lease,
                "taskiq_ours": contenders.taskiq_ours,
                "taskiq_plain": contenders.taskiq_plain,
            }
            results = interleave(rounds, {name: _settled(each) for name, each in measured.items()})
        finally:
            redis.stop()

    def rates(name: str) -> list[float]:
        return [result["jobs_per_s"] for result in results[name]]

    load = f"{jobs:,} no-op jobs, {CONCURRENCY} at a time"
    return [
        Figure.from_rounds(
            f"jobs/s, embedded (SQLite), service layer, {load}",
            rates("embedded_service"),
            rates("huey"),
            "jobs/s",
            reference_name="huey SqliteHuey",
            target=1.0,
        ),
        Figure.from_rounds(
            f"jobs/s, embedded (PostgreSQL), service layer, {load}",
            rates("embedded_postgres"),
            rates("huey"),
            "jobs/s",
            reference_name="huey SqliteHuey (its storage: SQLite)",
        ),
        Figure.from_rounds(
            f"jobs/s, embedded (SQLite), over HTTP, {load}",
            rates("embedded_http"),
            rates("huey"),
            "jobs/s",
            reference_name="huey SqliteHuey (no HTTP)",
            target=1.0,
        ),
        Figure.from_rounds(
            f"jobs/s, embedded (SQLite), service layer, {load}",
            rates("embedded_service"),
            rates("sqlite_lease"),
            "jobs/s",
            reference_name="raw sqlite3 lease queue, FULL (limit)",
        ),
        Figure.from_rounds(
            f"jobs/s, taskiq (Redis, 1 worker process), {load}",
            rates("taskiq_ours"),
            rates("taskiq_plain"),
            "jobs/s",
            reference_name="plain taskiq + taskiq-redis",
            target=0.5,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs, two rounds")
    args = parser.parse_args(argv)
    title = f"Background tasks ({'quick' if args.quick else 'full'} run)"
    sys.stdout.write(render_table(title, run(args.quick)) + "\n")
    packages = ("fastapi", "uvicorn", "sqlalchemy", "taskiq", "taskiq-redis", "redis", "huey")
    sys.stdout.write(machine_details(packages) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
