"""Limit reference: a minimal lease queue on raw ``sqlite3``, one transaction per state change.

Run: python -m benchmarks.peers.tasks_sqlite_lease DB_PATH JOBS SYNCHRONOUS

No framework, no thread hops, no status API: one connection in WAL mode,
``synchronous`` as given (FULL: every commit is fsynced, as ours; NORMAL:
survives a killed process, not a power cut). Each job is enqueued (one
transaction), claimed with a lease (one), and finished (one), in a single
thread; the jobs are no-ops. Prints one JSON line.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import uuid


def measure(path: str, jobs: int, synchronous: str) -> dict[str, float]:
    """Enqueue, claim and finish ``jobs`` tasks; return the rate."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS queue (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, "
        "status TEXT, owner TEXT, lease_until REAL, updated_at REAL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS queue_status_seq ON queue (status, seq)")
    cpu = time.process_time()
    started = time.perf_counter()
    for _ in range(jobs):
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO queue (id, status, updated_at) VALUES (?, 'queued', ?)",
            (uuid.uuid4().hex, time.time()),
        )
        db.execute("COMMIT")
    submitted = time.perf_counter() - started
    owner = uuid.uuid4().hex
    while True:
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        row = db.execute(
            "UPDATE queue SET status = 'running', owner = ?, lease_until = ?, updated_at = ? "
            "WHERE seq = (SELECT seq FROM queue WHERE status = 'queued' ORDER BY seq LIMIT 1) "
            "RETURNING id",
            (owner, now + 30, now),
        ).fetchone()
        db.execute("COMMIT")
        if row is None:
            break
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE queue SET status = 'succeeded', owner = NULL, lease_until = NULL, "
            "updated_at = ? WHERE id = ? AND owner = ?",
            (time.time(), row[0], owner),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    db.close()
    return {"jobs_per_s": jobs / elapsed, "submitted_per_s": jobs / submitted, "cpu_s": cpu}


def main() -> int:
    """Measure and print the JSON line."""
    path, jobs, synchronous = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sys.stdout.write(json.dumps(measure(path, jobs, synchronous)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
