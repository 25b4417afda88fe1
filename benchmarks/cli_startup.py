"""The CLI's own figures: `--help` start-up next to other tools, and `new --all` wall time.

Run: python -m benchmarks.cli_startup [--quick]

Each command runs in a fresh process, interleaved so that machine noise hits
them alike; figures are medians. Tools that are not installed are left out.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Figure, machine_details, render_table, scaled


def _command(name: str) -> list[str] | None:
    """Return how to run the console script ``name`` of the running interpreter's environment.

    The script beside ``sys.executable`` first (the venv's, even when its bin
    folder is not on PATH), then PATH; None when it is installed nowhere.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(name)
    return [found] if found else None


OURS = [*(_command("fastscaffold") or [sys.executable, "-m", "fastscaffold"]), "--help"]
REFERENCES = {
    f"{name} --help": [*command, "--help"]
    for name in ("copier", "cookiecutter", "fastapi")
    if (command := _command(name)) is not None
}


def _time_once(argv: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _help_figures(runs: int) -> list[Figure]:
    available = REFERENCES
    samples: dict[str, list[float]] = {"ours": [], **{name: [] for name in available}}
    for argv in [OURS, *available.values()]:
        _time_once(argv)  # warm the file cache once
    for _ in range(runs):
        samples["ours"].append(_time_once(OURS))
        for name, argv in available.items():
            samples[name].append(_time_once(argv))
    ours = statistics.median(samples["ours"]) * 1000
    return [
        Figure(
            f"`fastscaffold --help` start-up vs `{name}`",
            ours,
            statistics.median(samples[name]) * 1000,
            "ms",
            higher_is_better=False,
        )
        for name in available
    ]


def _new_all_seconds(runs: int) -> float:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
            argv = [sys.executable, "-m", "fastscaffold", "new", "demo", "--all", "--no-input"]
            times.append(_time_once([*argv, "--dir", tmp]))
    return statistics.median(times)


def run(quick: bool) -> list[Figure]:
    """Measure the CLI figures."""
    runs = scaled(5 if quick else 20)
    figures = _help_figures(runs)
    figures.append(
        Figure("`fastscaffold new demo --all` wall time", _new_all_seconds(scaled(3)), None, "s")
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args(argv)
    sys.stdout.write(render_table("Command line", run(args.quick)))
    sys.stdout.write(f"\n{machine_details()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
