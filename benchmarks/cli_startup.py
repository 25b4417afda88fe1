"""Start-up time of `fastscaffold --help` next to `copier --help` and `fastapi --help`.

Run: python -m benchmarks.cli_startup [--runs N]

Each command runs N times in a fresh process, interleaved so that machine
noise hits them alike; the table shows the median and the ratio to
fastscaffold. Commands that are not installed are reported as such.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "fastscaffold --help": ["fastscaffold", "--help"],
    "copier --help": ["copier", "--help"],
    "cookiecutter --help": ["cookiecutter", "--help"],
    "fastapi --help": ["fastapi", "--help"],
}


def _time_once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def measure(runs: int) -> dict[str, float | None]:
    """Return the median wall time of each command, None when it is not installed."""
    available = {name: argv for name, argv in COMMANDS.items() if shutil.which(argv[0])}
    samples: dict[str, list[float]] = {name: [] for name in available}
    for argv in available.values():
        _time_once(argv)  # warm the file cache once
    for _ in range(runs):
        for name, argv in available.items():
            samples[name].append(_time_once(argv))
    return {
        name: (statistics.median(samples[name]) if name in samples else None) for name in COMMANDS
    }


def render(results: dict[str, float | None], runs: int) -> str:
    """Return the results as a Markdown table with the machine details."""
    ours = results["fastscaffold --help"]
    lines = [
        f"Median of {runs} runs; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {platform.system()} {platform.machine()}.",
        "",
        "| command | median | relative to fastscaffold |",
        "|---|---|---|",
    ]
    for name, value in results.items():
        if value is None:
            lines.append(f"| `{name}` | not installed | |")
        else:
            ratio = f"{value / ours:.1f}x" if ours else ""
            lines.append(f"| `{name}` | {value * 1000:.0f} ms | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    sys.stdout.write(render(measure(args.runs), args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
