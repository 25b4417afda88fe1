"""`python -m benchmarks --quick` runs end to end (tiny sizes; no timing assertions)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import __main__ as benchmarks_main
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_harness_runs_every_benchmark_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    # As when the virtualenv is not activated: its bin folder is not on PATH.
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(report)],
        cwd=REPO_ROOT,
        env={**os.environ, "FASTSCAFFOLD_BENCH_SCALE": "0.01", "PATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    for title in benchmarks_main.BENCHMARKS.values():
        assert f"### {title}" in text
    assert "| figure | fastscaffold | reference | better by | spread | target |" in text
    assert "Machine:" in text and "CPU(s)" in text
    assert "one project with all patterns, installed in its own virtualenv" in text
    # Every process it started is gone: nothing listens on behalf of a benchmark.
    leftovers = subprocess.run(
        ["pgrep", "-af", "naive_.*_app|bench-"], capture_output=True, text=True
    ).stdout
    assert leftovers == ""


def test_a_missing_program_is_named_with_its_package_before_anything_runs(
    tmp_path: Path,
) -> None:
    # A PATH holding only Python: no wrk, gcc, curl or redis-server.
    only_python = tmp_path / "bin"
    only_python.mkdir()
    (only_python / "python").symlink_to(sys.executable)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "http", "websockets"],
        cwd=REPO_ROOT,
        env={**os.environ, "PATH": str(only_python)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "wrk (apt-get install wrk)" in done.stderr
    assert "gcc (apt-get install gcc)" in done.stderr
    assert "redis-server" not in done.stderr  # not needed by the benchmarks chosen
    assert "Traceback" not in done.stderr
    # It stopped before generating the project (which takes seconds and prints "Creating").
    assert "Creating" not in done.stdout + done.stderr
