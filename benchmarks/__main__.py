"""Run every benchmark, each next to its naive reference, and print one Markdown report.

Run: python -m benchmarks [--quick] [--output FILE] [--only NAME ...]

It generates one project with every pattern (`fastscaffold new --all
--venv`: its own virtualenv, the project installed with its dev extra);
each benchmark serves that project with real uvicorn processes on
loopback, and a naive reference app the same way in the same run. Every
process and file it starts is cleaned up. (A benchmark run alone, as
``python -m benchmarks.<name>``, generates a project with just its
pattern and runs it with this interpreter.)
``--quick`` runs a reduced set (a few minutes); FASTSCAFFOLD_BENCH_SCALE
shrinks every size further (the harness test uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import PROJECT_VARIABLE, machine_details, missing_programs, render_table

BENCHMARKS = {
    "cli_startup": "Command line",
    "http": "HTTP base app",
    "websockets": "WebSocket rooms (fan-out)",
    "tasks": "Background tasks",
    "upload": "File upload",
    "streaming": "Streaming exports",
}
PACKAGES = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "redis", "taskiq", "fastscaffold")


@contextlib.contextmanager
def installed_project() -> Iterator[Path]:
    """Generate the all-patterns project with its own installed virtualenv, for the block."""
    with tempfile.TemporaryDirectory(prefix="bench-project-") as tmp:
        argv = [sys.executable, "-m", "fastscaffold", "new", "bench-all", "--all", "--no-input"]
        subprocess.run([*argv, "--venv", "--dir", tmp], check=True, stdout=subprocess.DEVNULL)
        yield Path(tmp) / "bench-all"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print (and optionally write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set, in a few minutes")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args(argv)
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    modules = {name: importlib.import_module(f"benchmarks.{name}") for name in chosen}
    # Each benchmark module names the programs it runs besides Python in NEEDS.
    needed = [program for module in modules.values() for program in getattr(module, "NEEDS", ())]
    missing = missing_programs(needed)
    if missing:
        # Before anything runs: a run that fails half-way wastes minutes and says less.
        lacking = ", ".join(missing)
        print(f"The benchmarks need programs this machine lacks: {lacking}.", file=sys.stderr)
        return 2
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
    with installed_project() as project:
        os.environ[PROJECT_VARIABLE] = str(project)
        setup = time.monotonic() - started
        lines.append(
            "Every benchmark served one project with all patterns, installed in its own "
            f"virtualenv ({setup:.0f} s to generate and install).\n"
        )
        for name in chosen:
            title, module = BENCHMARKS[name], modules[name]
            section_started = time.monotonic()
            figures = module.run(args.quick)
            elapsed = time.monotonic() - section_started
            lines.append(render_table(f"{title} ({elapsed:.0f} s)", figures))
            print(lines[-1], flush=True)
    lines.append(f"Total time: {time.monotonic() - started:.0f} s.\n")
    report = "\n".join(lines)
    if args.output is not None:
        args.output.write_text(report, encoding="utf-8")
    print(lines[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
