"""Streaming exports: the generated `streaming` pattern against fetch-everything.

Run: python -m benchmarks.streaming [--quick]

A project with the pattern is generated and seeded with its own `seed-items`
command (1,000,000 rows in SQLite; 100,000 with --quick). Each app is served
by uvicorn (one worker) in turn: the generated one, and the naive reference
(benchmarks/naive_streaming_app.py: `fetchall()`, the whole CSV in memory, one
response) on the same database file. A client downloads the whole CSV export
over loopback; the figures are the medians of the runs: rows per second, time
to the first byte of the body, and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2

from benchmarks.harness import Figure, bench_project, machine_details, render_table, scaled
from tests.services import QUIET, peak_rss_bytes, serve_uvicorn

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


@dataclass(frozen=True)
class Run:
    """One download of the CSV export."""

    rows: int
    first_byte: float
    total: float
    peak_rss: int


def _download(url: str) -> tuple[int, float, float]:
    """Download `url`; return the lines, the time to the first body byte, the total time."""
    started = time.perf_counter()
    first_byte = 0.0
    lines = 0
    with httpx2.Client(timeout=600) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            if not first_byte:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
    return lines, first_byte, time.perf_counter() - started


def _measure(
    app: str, cwd: Path, env: Mapping[str, str], expected_rows: int, python: str = sys.executable
) -> Run:
    """Serve `app` afresh, download the export once, and read the server's peak memory."""
    with serve_uvicorn(app, cwd, env=env, extra_args=QUIET, python=python) as served:
        url, pid = served.url, served.process.pid
        _download(f"{url}/exports/items.csv?limit=10" if "naive" not in app else f"{url}/health")
        lines, first_byte, total = _download(f"{url}/exports/items.csv")
        if lines - 1 != expected_rows:
            raise RuntimeError(f"{app} sent {lines - 1} rows, not {expected_rows}")
        return Run(lines - 1, first_byte, total, peak_rss_bytes(pid))


def run(quick: bool) -> list[Figure]:
    """Measure both apps and return the figures (medians of 3 runs, 1 with `quick`)."""
    rows = scaled(100_000 if quick else 1_000_000)
    repeats = 1 if quick else 3
    with (
        tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp,
        bench_project("streaming") as bench,
    ):
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'app.db'}"
        env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
        subprocess.run(
            [bench.python, "-m", bench.package, "seed-items", "--rows", str(rows)],
            cwd=bench.root,
            env={**os.environ, **env},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        ours: list[Run] = []
        naive: list[Run] = []
        for _ in range(repeats):  # interleaved, so machine noise hits both alike
            ours.append(_measure(bench.entrypoint, bench.root, env, rows, bench.python))
            naive.append(_measure("benchmarks.naive_streaming_app:app", REPO_ROOT, env, rows))

    def median(runs: list[Run], value: str) -> float:
        return float(statistics.median(getattr(r, value) for r in runs))

    label = f"{rows:,} rows"
    return [
        Figure(
            f"rows/s, CSV of {label}",
            rows / median(ours, "total"),
            rows / median(naive, "total"),
            "rows/s",
        ),
        Figure(
            f"time to first byte, {label}",
            median(ours, "first_byte") * 1000,
            median(naive, "first_byte") * 1000,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            f"server peak RSS, {label}",
            median(ours, "peak_rss") / MiB,
            median(naive, "peak_rss") / MiB,
            "MiB",
            higher_is_better=False,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, one run")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    title = "Streaming CSV export (SQLite, one uvicorn worker, loopback client)"
    sys.stdout.write(render_table(title, figures) + "\n" + machine_details() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
