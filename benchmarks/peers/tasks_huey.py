"""Peer: huey's ``SqliteHuey`` with its consumer (4 worker threads), N no-op jobs.

Run: python -m benchmarks.peers.tasks_huey DB_PATH JOBS

What a huey user writes: a ``SqliteHuey`` on a file (huey's defaults: WAL,
SQLite's default ``synchronous``, FULL), a no-op ``@huey.task()``, and the
consumer with four thread workers, here in the same process. The jobs are
enqueued from the main thread while the consumer runs them; the clock stops
when the last one completed (huey's ``SIGNAL_COMPLETE``). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from huey import SqliteHuey
from huey.signals import SIGNAL_COMPLETE


def measure(path: str, jobs: int, workers: int = 4) -> dict[str, float]:
    """Enqueue ``jobs`` no-op tasks, run them on the consumer; return the rate."""
    huey = SqliteHuey("bench", filename=path)
    done = threading.Semaphore(0)

    @huey.task()
    def noop() -> None:
        """Do nothing."""

    @huey.signal(SIGNAL_COMPLETE)
    def completed(_signal: str, _task: object) -> None:
        done.release()

    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
    consumer.start()
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        for _ in range(jobs):
            noop()
        submitted = time.perf_counter() - started
        for _ in range(jobs):
            if not done.acquire(timeout=120):
                raise RuntimeError("huey did not complete the jobs within 120 s")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        consumer.stop(graceful=True)
    return {"jobs_per_s": jobs / elapsed, "submitted_per_s": jobs / submitted, "cpu_s": cpu}


def main() -> int:
    """Measure and print the JSON line."""
    sys.stdout.write(json.dumps(measure(sys.argv[1], int(sys.argv[2]))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
