"""Ours at the service layer: N no-op jobs through the tasks pattern's Python API.

Run: python -m benchmarks.peers.tasks_service_layer PACKAGE JOBS (in the project's folder,
with DATABASE_URL, and REDIS_URL for the taskiq engine, in the environment); and for the
taskiq engine first python -m benchmarks.peers.tasks_service_layer PACKAGE worker: the
project's worker process, which knows the no-op job too. Over HTTP: uvicorn --factory
benchmarks.peers.tasks_service_layer:http_app with BENCH_ENTRYPOINT=module:attr (the
project's app, with the no-op job registered).

Submits every job through ``TaskService.submit`` (all at once, as concurrent
requests would) while the service's own workers run them (embedded engine:
``TASKS_CONCURRENCY`` in-app workers; taskiq engine: a separate ``worker``
process the caller starts), and prints one JSON line: jobs/s from the first
submission to the last task finished, and this process's CPU seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
import time
from typing import Any

from pydantic import BaseModel

NOOP = "bench-noop"


class NoParams(BaseModel):
    """The no-op job takes nothing."""


async def noop(params: NoParams, progress: Any) -> None:
    """Do nothing: the figure is the queue's own cost."""


def _register(package: str) -> None:
    registry = importlib.import_module(f"{package}.tasks.registry").registry
    if registry.get(NOOP) is None:
        registry.add(NOOP, noop)


async def measure(package: str, jobs: int) -> dict[str, float]:
    """Submit ``jobs`` no-op jobs, wait until all finished; return the rate."""
    database = importlib.import_module(f"{package}.database")
    migrate = importlib.import_module(f"{package}.migrate")
    service_module = importlib.import_module(f"{package}.tasks.service")
    settings_module = importlib.import_module(f"{package}.tasks.settings")
    store_module = importlib.import_module(f"{package}.tasks.store")
    _register(package)

    engine = database.create_engine(database.DatabaseSettings())
    await migrate.prepare(engine)
    settings = settings_module.TasksSettings(max_queued=max(10_000, jobs))
    store = store_module.TaskStore(engine, settings)
    service = service_module.create_service(store, settings)
    await service.start(run_jobs=True)
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(service.submit(NOOP, {}) for _ in range(jobs)))
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 300
        while (done := await store.count("succeeded")) < jobs:
            failed = await store.count("failed")
            if failed or time.monotonic() > deadline:
                raise RuntimeError(f"{done} of {jobs} jobs succeeded, {failed} failed")
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await service.stop()
        await engine.dispose()
    return {"jobs_per_s": jobs / elapsed, "submitted_per_s": jobs / submitted, "cpu_s": cpu}


def http_app() -> Any:
    """Return the project's ASGI app (``BENCH_ENTRYPOINT``) with the no-op job registered."""
    module, _, attr = os.environ["BENCH_ENTRYPOINT"].partition(":")
    _register(module.partition(".")[0])
    return getattr(importlib.import_module(module), attr)


def worker(package: str) -> int:
    """Run the project's ``worker`` command, with the no-op job registered."""
    _register(package)
    # The caller waits for "worker started" before it submits anything.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    cli = importlib.import_module(f"{package}.tasks.cli")
    settings = importlib.import_module(f"{package}.tasks.settings").TasksSettings()
    return int(asyncio.run(cli.run_worker(settings)))


def main() -> int:
    """Measure and print the JSON line (or run the worker)."""
    package = sys.argv[1]
    if sys.argv[2] == "worker":
        return worker(package)
    jobs = int(sys.argv[2])
    sys.stdout.write(json.dumps(asyncio.run(measure(package, jobs))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
