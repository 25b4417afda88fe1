"""HTTP: requests/s of the generated base app next to bare FastAPI and bare Starlette.

Run: python -m benchmarks.http [--quick]

Every app answers `GET /health` with `{"status": "ok"}` under one uvicorn
worker on loopback, started with the same flags; `wrk` (C, one thread, 50
connections) is the load client, and its CPU use is reported so it can be
seen not to be the limit. Two logging set-ups are measured:

- `--log-level warning`: what a production deployment that ships no access
  log runs; the generated app must honour it (not re-enable uvicorn's access
  log from LOG_LEVEL);
- uvicorn's default (access log on, at INFO): one line per request, through
  the generated app's handler (text format, request id) or uvicorn's own.

The generated app's target is at most 10 % slower than bare FastAPI with
the same flags (issue 16), in both layouts of benchmarks/peers/http_fastapi.py:
the route on an included APIRouter (as in the generated app, so the
difference is the base app's middleware and logging) and on the app
itself.

For each set-up the four servers are started together and stay up; each
round loads every one of them for `BURST_SECONDS`, in a rotating order, so
the two sides of a ratio are measured seconds apart. This machine's speed
drifts by a fifth over tens of seconds (host contention, not reported as
steal time): with one server started per five-second round, five rounds
of the same code gave medians from 0.86x to 1.02x. Many short adjacent
bursts pair the contenders more tightly than a few long ones. The servers
not under load sit idle (an idle uvicorn worker only wakes for its timer,
ten times a second; the generated app's background work, such as the task
worker's poll, is its own cost and runs while it is measured too).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    Figure,
    bench_project,
    cpu_seconds,
    interleave,
    machine_details,
    render_table,
)
from tests.services import serve_uvicorn

# Programs run besides Python (wrk, the HTTP load client): checked before a run starts.
NEEDS = ("wrk",)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 50
BURST_SECONDS = 1
"""How long each round loads each server (wrk counts in whole seconds)."""
ROUNDS = 25
"""Rounds per set-up in a full run: each contender gets this many bursts."""
_REQUESTS = re.compile(r"Requests/sec:\s+([\d.]+)")


@dataclass(frozen=True)
class Run:
    """What one app did under wrk."""

    requests_per_s: float
    client_cpu_share: float  # wrk's CPU seconds per second of load


def _load(url: str, seconds: int) -> Run:
    """Run wrk against ``url`` for ``seconds``; return requests/s and wrk's CPU share."""
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", url]
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    # wrk prints only when done; sample its CPU just before the end, while it exists,
    # as a share of the time it had run by then.
    time.sleep(max(0.0, seconds - 0.3))
    try:
        client_cpu = cpu_seconds(process.pid) / (time.monotonic() - started)
    except FileNotFoundError:
        client_cpu = 0.0
    out = process.communicate(timeout=seconds + 30)[0]
    found = _REQUESTS.search(out)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed against {url}:\n{out}")
    return Run(float(found.group(1)), client_cpu)


def _burst(url: str) -> Callable[[], Run]:
    """Return one round's load of ``url``: wrk for `BURST_SECONDS`."""
    return lambda: _load(url, BURST_SECONDS)


def run(quick: bool) -> list[Figure]:
    """Measure the three apps under both logging set-ups; return the figures."""
    rounds = 2 if quick else ROUNDS
    figures: list[Figure] = []
    with (
        bench_project(None) as bench,
        tempfile.TemporaryDirectory(prefix="bench-http-") as folder,
    ):
        # The generated app's own settings: its default LOG_LEVEL (INFO) stays,
        # so honouring uvicorn's flags is what the first set-up measures. (With
        # every pattern applied, the app's tables go in a database of its own.)
        database = f"sqlite+aiosqlite:///{Path(folder) / 'http.db'}"
        ours_env = {"REDIS_URL": "", "DATABASE_URL": database}
        servers = {
            "ours": (bench.entrypoint, bench.root, ours_env),
            "fastapi": ("benchmarks.peers.http_fastapi:app", REPO_ROOT, {}),
            "router": ("benchmarks.peers.http_fastapi:router_app", REPO_ROOT, {}),
            "starlette": ("benchmarks.peers.http_starlette:app", REPO_ROOT, {}),
        }
        setups = {
            "--log-level warning": ("--log-level", "warning"),
            "access log on (uvicorn default)": (),
        }
        for label, flags in setups.items():
            with contextlib.ExitStack() as running:
                urls = {
                    name: running.enter_context(
                        serve_uvicorn(entrypoint, cwd, env=env, extra_args=flags,
                                      python=bench.python)
                    ).url + "/health"
                    for name, (entrypoint, cwd, env) in servers.items()
                }  # fmt: skip
                for url in urls.values():
                    _load(url, 1)  # Warm-up: imports, first connections.
                results = interleave(rounds, {name: _burst(url) for name, url in urls.items()})
                ours = [r.requests_per_s for r in results["ours"]]
                for name, reference_name, target in (
                    ("router", "bare FastAPI, route on an APIRouter", 0.9),
                    ("fastapi", "bare FastAPI, route on the app", 0.9),
                    ("starlette", "bare Starlette", None),
                ):
                    figures.append(
                        Figure.from_rounds(
                            f"GET /health req/s, {label}",
                            ours,
                            [r.requests_per_s for r in results[name]],
                            "req/s",
                            reference_name=reference_name,
                            target=target,
                        )
                    )
                client = max(r.client_cpu_share for rs in results.values() for r in rs)
                figures.append(
                    Figure(
                        f"wrk client CPU (busiest run), {label}", client * 100, None, "% of a core"
                    )
                )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"two rounds (default: {ROUNDS})")
    args = parser.parse_args(argv)
    title = f"HTTP base app ({'quick' if args.quick else 'full'} run)"
    sys.stdout.write(render_table(title, run(args.quick)) + "\n")
    sys.stdout.write(machine_details() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
