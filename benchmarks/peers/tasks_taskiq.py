"""Peer: plain taskiq with taskiq-redis (stream broker, Redis result backend), N no-op jobs.

Run the worker: taskiq worker benchmarks.peers.tasks_taskiq:broker --workers 1
                --max-async-tasks 4   (with BENCH_REDIS_URL set)
Run the client: python -m benchmarks.peers.tasks_taskiq JOBS

What a taskiq user writes: a ``RedisStreamBroker`` with a
``RedisAsyncResultBackend`` (JSON, results kept 10 minutes), one no-op task,
``kiq`` for every job (all at once, as concurrent requests would) and
``wait_result`` for each. Status lives in Redis only; nothing is in a
database. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from taskiq.serializers import JSONSerializer
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

broker = RedisStreamBroker(URL, queue_name="bench-taskiq").with_result_backend(
    RedisAsyncResultBackend(URL, result_ex_time=600, serializer=JSONSerializer())
)


@broker.task(task_name="bench.noop")
async def noop() -> None:
    """Do nothing: the figure is the queue's own cost."""


async def measure(jobs: int) -> dict[str, float]:
    """Send ``jobs`` no-op tasks, wait for every result; return the rate."""
    await broker.startup()
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        sent = await asyncio.gather(*(noop.kiq() for _ in range(jobs)))
        submitted = time.perf_counter() - started
        for task in sent:
            result = await task.wait_result(check_interval=0.005, timeout=120)
            if result.is_err:
                raise RuntimeError(f"a no-op task failed: {result.error}")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await broker.shutdown()
    return {"jobs_per_s": jobs / elapsed, "submitted_per_s": jobs / submitted, "cpu_s": cpu}


def main() -> int:
    """Measure and print the JSON line."""
    sys.stdout.write(json.dumps(asyncio.run(measure(int(sys.argv[1])))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
