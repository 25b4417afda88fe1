"""The CLI's own figures: `--help` start-up next to other tools, and `new --all` wall time.

Run: python -m benchmarks.cli_startup [--quick]

Each command runs in a fresh process, interleaved so that machine noise hits
them alike; figures are medians. Tools that are not installed are left out.

Every command runs with its bytecode cached, as after a wheel install: all of
them share one temporary PYTHONPYCACHEPREFIX, filled by a warm-up run, with
bytecode writing on. Without it an editable checkout under
PYTHONDONTWRITEBYTECODE=1 (as on the CI machines) compiles fastscaffold's own
modules at every start, while its peers read the bytecode pip wrote.
"""

from __future__ import annotations

import argparse
import os
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


def _time_once(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - started


def _cached_bytecode_env(prefix: str) -> dict[str, str]:
    """Return the environment of every timed command: bytecode kept under ``prefix``."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def _help_figures(runs: int, env: dict[str, str]) -> list[Figure]:
    available = REFERENCES
    samples: dict[str, list[float]] = {"ours": [], **{name: [] for name in available}}
    for argv in [OURS, *available.values()]:
        _time_once(argv, env)  # warm the file cache and write the bytecode once
    for _ in range(runs):
        samples["ours"].append(_time_once(OURS, env))
        for name, argv in available.items():
            samples[name].append(_time_once(argv, env))
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


def _new_all_seconds(runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-new-") as tmp:
            argv = [sys.executable, "-m", "fastscaffold", "new", "demo", "--all", "--no-input"]
            times.append(_time_once([*argv, "--dir", tmp], env))
    return statistics.median(times)


def run(quick: bool) -> list[Figure]:
    """Measure the CLI figures."""
    runs = scaled(5 if quick else 20)
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as prefix:
        env = _cached_bytecode_env(prefix)
        figures = _help_figures(runs, env)
        new_all = _new_all_seconds(scaled(3), env)
    figures.append(Figure("`fastscaffold new demo --all` wall time", new_all, None, "s"))
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
