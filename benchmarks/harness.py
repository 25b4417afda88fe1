"""What every benchmark shares: figures side by side with a reference, as Markdown.

A benchmark module in this package defines ``run(quick: bool) -> list[Figure]``
and measures fastscaffold's generated code and a naive reference in the same
run (absolute numbers drift on shared machines; ratios hold). ``python -m
benchmarks`` runs them all; ``python -m benchmarks.<name>`` runs one.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SCALE_VARIABLE = "FASTSCAFFOLD_BENCH_SCALE"
PROJECT_VARIABLE = "FASTSCAFFOLD_BENCH_PROJECT"


@dataclass(frozen=True)
class BenchProject:
    """The generated project a benchmark serves.

    Attributes:
        root: Its folder.
        package: Its Python package (for ``python -m <package> ...`` commands).
        entrypoint: Its ASGI app, ``module:attr``.
        python: The interpreter to run it with (its own .venv when it has one).
    """

    root: Path
    package: str
    entrypoint: str
    python: str


@contextlib.contextmanager
def bench_project(pattern: str) -> Iterator[BenchProject]:
    """Yield the project to measure ``pattern`` in.

    ``python -m benchmarks`` generates one project with every pattern,
    installs it into its own virtualenv, and names it in
    FASTSCAFFOLD_BENCH_PROJECT; a benchmark run on its own generates a
    project with just ``pattern`` and runs it with this interpreter.
    """
    from fastscaffold.creation import NewOptions, new_project
    from fastscaffold.project import load_project

    with contextlib.ExitStack() as stack:
        shared = os.environ.get(PROJECT_VARIABLE)
        if shared:
            root = Path(shared)
        else:
            parent = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            options = NewOptions(name=f"{pattern}-bench", parent=parent, patterns=(pattern,))
            root = new_project(options).destination
        project = load_project(root)
        venv = project.venv_python
        yield BenchProject(
            root=root,
            package=project.package,
            entrypoint=project.entrypoint,
            python=str(venv) if venv.exists() else sys.executable,
        )


def scaled(amount: int) -> int:
    """Return ``amount`` times the scale in FASTSCAFFOLD_BENCH_SCALE (default 1), at least 1.

    The harness test sets a tiny scale to prove every benchmark runs end to
    end in seconds; real measurements leave it unset.
    """
    factor = float(os.environ.get(SCALE_VARIABLE, "1"))
    return max(1, int(amount * factor))


@dataclass(frozen=True)
class Figure:
    """One measured quantity, for fastscaffold's code and for the naive reference.

    Attributes:
        name: What was measured and under which load, e.g. "deliveries/s, 50 clients".
        ours: The figure for fastscaffold's generated code.
        reference: The same figure for the naive reference (None when it has none).
        unit: The unit, e.g. "msg/s", "MB", "ms".
        higher_is_better: Whether a larger figure is the better one.
    """

    name: str
    ours: float
    reference: float | None
    unit: str
    higher_is_better: bool = True

    def ratio(self) -> str:
        """Return how many times better (>1) or worse (<1) ours is than the reference."""
        if self.reference is None or self.reference == 0 or self.ours == 0:
            return ""
        better = self.ours / self.reference if self.higher_is_better else self.reference / self.ours
        return f"{better:.2f}x"


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{shown} {unit}"


def render_table(title: str, figures: Sequence[Figure]) -> str:
    """Return a Markdown section: the figures, the reference's and the ratio."""
    lines = [
        f"### {title}",
        "",
        "| figure | fastscaffold | naive reference | better by |",
        "|---|---|---|---|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.name} | {_number(figure.ours, figure.unit)} | "
            f"{_number(figure.reference, figure.unit)} | {figure.ratio()} |"
        )
    return "\n".join(lines) + "\n"


def machine_details(packages: Sequence[str] = ("fastapi", "starlette", "uvicorn")) -> str:
    """Return one line about the machine and the versions that shape the figures."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return (
        f"{os.cpu_count()} CPU(s), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )
