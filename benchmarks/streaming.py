"""Streaming exports: the generated `streaming` pattern against the minimal exports of its peers.

Run: python -m benchmarks.streaming [--quick]

A project with the pattern is generated and seeded with its own `seed-items`
command (1,000,000 rows; 200,000 with --quick), once in SQLite and once in a
private PostgreSQL (tests/services.py's `running_postgres`). Each app is served
by the project's own uvicorn (one worker) on the same database:

- the generated app;
- the limit references (issue 16): `benchmarks/peers/streaming_sqlite.py`
  (sqlite3 + csv + `fetchmany(5000)` in a `StreamingResponse`) and
  `benchmarks/peers/streaming_asyncpg.py` (an asyncpg server-side cursor,
  5,000 rows per fetch, csv); both also serve a plain `json.dumps` NDJSON;
- on SQLite, the naive export (benchmarks/naive_streaming_app.py:
  `fetchall()`, the whole CSV in memory, one response), for memory and first byte.

A loopback client (httpx, counting lines) downloads each export in turn, in
interleaved rounds (3, or 1 with --quick); the figures are the medians of the
rounds with the spread of their ratios: rows per second, time to the first
byte of the body, and the server's peak resident memory (VmHWM, which only
grows: it covers every download the server made so far). The client's own CPU
time is reported next to the first figure, to show it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
from tests.services import QUIET, ServedApp, peak_rss_bytes, running_postgres, serve_uvicorn

# Programs run besides Python (a private PostgreSQL): checked before a run starts.
NEEDS = ("initdb",)

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
SQLITE_PEER = "benchmarks.peers.streaming_sqlite:app"
ASYNCPG_PEER = "benchmarks.peers.streaming_asyncpg:app"
NAIVE = "benchmarks.naive_streaming_app:app"


@dataclass(frozen=True)
class Run:
    """One download of an export."""

    rows: int
    first_byte: float
    total: float
    peak_rss: int
    client_cpu: float

    @property
    def rows_per_second(self) -> float:
        """Return the rows sent per second of the whole download."""
        return self.rows / self.total


def _download(url: str) -> tuple[int, float, float, float]:
    """Download `url`; return the lines, first body byte time, total time, client CPU."""
    cpu = time.process_time()
    started = time.perf_counter()
    first_byte = 0.0
    lines = 0
    with httpx2.Client(timeout=600) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            if not first_byte:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
    return lines, first_byte, time.perf_counter() - started, time.process_time() - cpu


def _downloader(
    served: ServedApp, path: str, expected_rows: int, header: bool
) -> Callable[[], Run]:
    """Return a function that downloads `path` from `served` once and checks the row count."""

    def download() -> Run:
        lines, first_byte, total, cpu = _download(f"{served.url}{path}")
        rows = lines - 1 if header else lines
        if rows != expected_rows:
            raise RuntimeError(f"{served.url}{path} sent {rows} rows, not {expected_rows}")
        return Run(rows, first_byte, total, peak_rss_bytes(served.process.pid), cpu)

    return download


def _seed(bench: BenchProject, database_url: str, rows: int) -> None:
    subprocess.run(
        [bench.python, "-m", bench.package, "seed-items", "--rows", str(rows)],
        cwd=bench.root,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def _servers(
    bench: BenchProject, database_url: str, peers: Mapping[str, str]
) -> Iterator[dict[str, ServedApp]]:
    """Serve the generated app and each peer (name -> entrypoint) on `database_url`."""
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    with contextlib.ExitStack() as stack:
        served = {
            "ours": stack.enter_context(
                serve_uvicorn(bench.entrypoint, bench.root, env=env, extra_args=QUIET,
                              python=bench.python)
            )
        }  # fmt: skip
        for name, entrypoint in peers.items():
            served[name] = stack.enter_context(
                serve_uvicorn(entrypoint, REPO_ROOT, env=env, extra_args=QUIET,
                              python=bench.python)
            )  # fmt: skip
        # Warm up the generated app (imports, first connection); the peers have no
        # filters (a warm-up would be a whole export), and the page cache is warm.
        httpx2.get(f"{served['ours'].url}/exports/items.csv?limit=10", timeout=60)
        yield served


def _figures(
    label: str,
    results: Mapping[str, list[Run]],
    ours: str,
    reference: str,
    reference_name: str,
    *,
    target: float | None,
    what: str,
) -> list[Figure]:
    mine, theirs = results[ours], results[reference]
    cpu = statistics.median(run.client_cpu / run.total for run in mine)
    return [
        Figure.from_rounds(
            f"rows/s, {what} of {label} (client CPU {cpu:.0%} of its wall time)",
            [run.rows_per_second for run in mine],
            [run.rows_per_second for run in theirs],
            "rows/s",
            reference_name=reference_name,
            target=target,
        ),
        Figure.from_rounds(
            f"time to first byte, {what} of {label}",
            [run.first_byte * 1000 for run in mine],
            [run.first_byte * 1000 for run in theirs],
            "ms",
            higher_is_better=False,
            reference_name=reference_name,
        ),
        Figure.from_rounds(
            f"server peak RSS, {what} of {label}",
            [run.peak_rss / MiB for run in mine],
            [run.peak_rss / MiB for run in theirs],
            "MiB",
            higher_is_better=False,
            reference_name=reference_name,
        ),
    ]


def _rows_figure(
    name: str, results: Mapping[str, list[Run]], ours: str, reference: str, reference_name: str
) -> Figure:
    return Figure.from_rounds(
        name,
        [run.rows_per_second for run in results[ours]],
        [run.rows_per_second for run in results[reference]],
        "rows/s",
        reference_name=reference_name,
    )


def _sqlite(bench: BenchProject, folder: Path, rows: int, rounds: int) -> list[Figure]:
    database_url = f"sqlite+aiosqlite:///{folder / 'app.db'}"
    _seed(bench, database_url, rows)
    peers = {"peer": SQLITE_PEER, "naive": NAIVE}
    with _servers(bench, database_url, peers) as served:
        ours, peer, naive = served["ours"], served["peer"], served["naive"]
        results = interleave(
            rounds,
            {
                "ours csv": _downloader(ours, "/exports/items.csv", rows, header=True),
                "peer csv": _downloader(peer, "/exports/items.csv", rows, header=True),
                "ours ndjson": _downloader(ours, "/exports/items.ndjson", rows, header=False),
                "peer ndjson": _downloader(peer, "/exports/items.ndjson", rows, header=False),
            },
        )
        # Fetch-everything is slow and large: one round says all it has to say.
        results |= interleave(1, {"naive": _downloader(naive, "/exports/items.csv", rows, True)})
        results["ours once"] = results["ours csv"][:1]
    label = f"{rows:,} rows, SQLite"
    reference = "sqlite3 + csv + fetchmany(5000)"
    naive_name = "naive fetchall()"
    figures = _figures(label, results, "ours csv", "peer csv", reference, target=0.8, what="CSV")
    figures.append(
        _rows_figure(f"rows/s, NDJSON of {label}", results, "ours ndjson", "peer ndjson",
                     "sqlite3 + json.dumps + fetchmany(5000)")
    )  # fmt: skip
    naive_figures = _figures(label, results, "ours once", "naive", naive_name, target=None,
                             what="CSV")  # fmt: skip
    return figures + naive_figures[1:]


def _postgres(bench: BenchProject, rows: int, rounds: int) -> list[Figure]:
    with running_postgres("bench-streaming-pg-") as server:
        database_url = server.new_database()
        _seed(bench, database_url, rows)
        server.psql("VACUUM ANALYZE items", database=database_url.rsplit("/", 1)[1])
        with _servers(bench, database_url, {"peer": ASYNCPG_PEER}) as served:
            ours, peer = served["ours"], served["peer"]
            results = interleave(
                rounds,
                {
                    "ours csv": _downloader(ours, "/exports/items.csv", rows, header=True),
                    "peer csv": _downloader(peer, "/exports/items.csv", rows, header=True),
                    "ours ndjson": _downloader(ours, "/exports/items.ndjson", rows, False),
                    "peer ndjson": _downloader(peer, "/exports/items.ndjson", rows, False),
                },
            )
    label = f"{rows:,} rows, PostgreSQL"
    reference = "asyncpg cursor + csv, 5000 per fetch"
    figures = _figures(label, results, "ours csv", "peer csv", reference, target=0.8, what="CSV")
    figures.append(
        _rows_figure(f"rows/s, NDJSON of {label}", results, "ours ndjson", "peer ndjson",
                     "asyncpg cursor + json.dumps")
    )  # fmt: skip
    return figures


def run(quick: bool) -> list[Figure]:
    """Measure the exports on SQLite and PostgreSQL and return the figures."""
    rows = scaled(200_000 if quick else 1_000_000)
    rounds = 1 if quick else 3
    with bench_project("streaming") as bench:
        with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp:
            figures = _sqlite(bench, Path(tmp), rows, rounds)
        figures += _postgres(bench, rows, rounds)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows, one round")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    title = "Streaming exports (SQLite and PostgreSQL, one uvicorn worker, loopback client)"
    packages = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "aiosqlite", "asyncpg")
    sys.stdout.write(render_table(title, figures) + "\n" + machine_details(packages) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
