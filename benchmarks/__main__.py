"""Run every benchmark, each next to its naive reference, and print one Markdown report.

Run: python -m benchmarks [--quick] [--output FILE] [--only NAME ...]

Each benchmark generates the project it measures with fastscaffold (the
pattern it is about, its requirements included), serves it with real
uvicorn processes on loopback, and serves a naive reference app the same
way in the same run; every process and file it starts is cleaned up.
``--quick`` runs a reduced set (a few minutes); FASTSCAFFOLD_BENCH_SCALE
shrinks every size further (the harness test uses it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import machine_details, render_table

BENCHMARKS = {
    "cli_startup": "Command line",
    "websockets": "WebSocket rooms (fan-out)",
    "tasks": "Background tasks",
    "upload": "File upload",
    "streaming": "Streaming exports",
}
PACKAGES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "redis", "taskiq", "fastscaffold")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print (and optionally write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set, in a few minutes")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args(argv)
    started = time.monotonic()
    mode = "quick" if args.quick else "full"
    lines = [
        "## Results",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({mode} run). "
        f"Machine: {machine_details(PACKAGES)}.",
        "",
        "`better by` is how many times better fastscaffold's figure is than the naive "
        "reference's (below 1: worse).",
        "",
    ]
    for name, title in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        section_started = time.monotonic()
        figures = module.run(args.quick)
        lines.append(render_table(f"{title} ({time.monotonic() - section_started:.0f} s)", figures))
        print(lines[-1], flush=True)
    lines.append(f"Total time: {time.monotonic() - started:.0f} s.\n")
    report = "\n".join(lines)
    if args.output is not None:
        args.output.write_text(report, encoding="utf-8")
    print(lines[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
