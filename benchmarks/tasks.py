"""Background tasks: jobs/s enqueued and completed, and status-read latency.

Run: python -m benchmarks.tasks [--quick]

Measures the generated `tasks` pattern in both engines (embedded SQLite
queue with in-app workers; taskiq on a private redis-server with one separate
`worker` process) next to the naive reference (BackgroundTasks and a dict,
benchmarks/naive_tasks_app.py), each under a real uvicorn on loopback, in the
same run. Each job is the demo job with one step and no delay, so the figures
are the machinery's overhead. The client runs on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2

from benchmarks.harness import Figure, bench_project, machine_details, render_table, scaled

REPO_ROOT = Path(__file__).resolve().parent.parent
FINAL = {"succeeded", "failed", "cancelled"}
CONCURRENCY = 16


@dataclass(frozen=True)
class Run:
    """What one server did under the load."""

    enqueued_per_s: float
    completed_per_s: float
    read_p50_ms: float
    read_p99_ms: float


@contextlib.contextmanager
def _serve(argv: list[str], cwd: Path, env: Mapping[str, str], port: int) -> Iterator[str]:
    from tests.helpers import wait_for_http

    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if port:
            wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _uvicorn(app: str, port: int, python: str = sys.executable) -> list[str]:
    return [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning"]  # fmt: skip


async def _measure(base: str, jobs: int, reads: int) -> Run:
    limits = httpx2.Limits(max_connections=CONCURRENCY)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        body = {"job": "demo", "params": {"steps": 1, "delay": 0}}

        async def submit() -> str:
            async with semaphore:
                response = await client.post("/tasks", json=body)
                response.raise_for_status()
                task_id: str = response.json()["id"]
                return task_id

        started = time.perf_counter()
        ids = await asyncio.gather(*(submit() for _ in range(jobs)))
        enqueued = time.perf_counter() - started
        # Oldest first: wait for each in turn (the later ones are usually done by then).
        for task_id in ids:
            for _ in range(100_000):
                status = (await client.get(f"/tasks/{task_id}")).json()["status"]
                if status in FINAL:
                    break
                await asyncio.sleep(0.005)
        completed = time.perf_counter() - started

        latencies = []
        for index in range(reads):
            task_id = ids[(index * 7919) % len(ids)]
            before = time.perf_counter()
            (await client.get(f"/tasks/{task_id}")).raise_for_status()
            latencies.append((time.perf_counter() - before) * 1000)
    latencies.sort()
    return Run(
        enqueued_per_s=jobs / enqueued,
        completed_per_s=jobs / completed,
        read_p50_ms=statistics.median(latencies),
        read_p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    )


def run(quick: bool) -> list[Figure]:
    """Measure both engines and the naive reference; return the figures."""
    from tests.helpers import free_port
    from tests.services import RedisServer

    jobs, reads = (scaled(200), scaled(200)) if quick else (scaled(2000), scaled(1000))
    with (
        tempfile.TemporaryDirectory(prefix="bench-tasks-") as folder,
        bench_project("tasks") as bench,
    ):
        tmp, project = Path(folder), bench.root
        app = (bench.entrypoint, bench.python)
        base_env = {"REDIS_URL": "", "TASKS_POLL_SECONDS": "0.05", "LOG_LEVEL": "WARNING"}

        port = free_port()
        with _serve(_uvicorn("benchmarks.naive_tasks_app:app", port), REPO_ROOT, {}, port) as url:
            naive = asyncio.run(_measure(url, jobs, reads))

        port = free_port()
        env = {**base_env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'embedded.db'}"}
        with _serve(_uvicorn(app[0], port, app[1]), project, env, port) as url:
            embedded = asyncio.run(_measure(url, jobs, reads))

        redis = RedisServer(folder=tmp)
        redis.start()
        try:
            env = {
                **base_env,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'taskiq.db'}",
                "REDIS_URL": redis.url,
            }
            worker = [bench.python, "-m", bench.package, "worker"]
            port = free_port()
            with (
                _serve(worker, project, env, 0),
                _serve(_uvicorn(app[0], port, app[1]), project, env, port) as url,
            ):
                taskiq = asyncio.run(_measure(url, jobs, reads))
        finally:
            redis.stop()

    figures = []
    for label, ours in (("embedded (SQLite)", embedded), ("taskiq (Redis, 1 worker)", taskiq)):
        figures += [
            Figure(
                f"jobs/s enqueued, {label}", ours.enqueued_per_s, naive.enqueued_per_s, "jobs/s"
            ),
            Figure(
                f"jobs/s completed, {label}", ours.completed_per_s, naive.completed_per_s, "jobs/s"
            ),
            Figure(f"status read p50, {label}", ours.read_p50_ms, naive.read_p50_ms, "ms", False),
            Figure(f"status read p99, {label}", ours.read_p99_ms, naive.read_p99_ms, "ms", False),
        ]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs (well under a minute)")
    args = parser.parse_args(argv)
    title = f"Background tasks ({'quick' if args.quick else 'full'} run)"
    sys.stdout.write(render_table(title, run(args.quick)) + "\n")
    packages = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "aiosqlite", "taskiq", "redis")
    sys.stdout.write(machine_details(packages) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
