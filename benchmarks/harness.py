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
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TypeVar

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
def bench_project(pattern: str | None) -> Iterator[BenchProject]:
    """Yield the project to measure ``pattern`` in (None: the base project).

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
            patterns = (pattern,) if pattern else ()
            options = NewOptions(
                name=f"{pattern or 'base'}-bench", parent=parent, patterns=patterns
            )
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
    """One measured quantity, for fastscaffold's code and for a reference, in one run.

    Attributes:
        name: What was measured and under which load, e.g. "deliveries/s, 50 clients".
        ours: The figure for fastscaffold's generated code (the median when repeated).
        reference: The same figure for the reference (None when it has none).
        unit: The unit, e.g. "msg/s", "MB", "ms".
        higher_is_better: Whether a larger figure is the better one.
        reference_name: Which reference: a peer users would pick instead ("huey
            SqliteHuey"), a limit reference ("raw sqlite3 queue") or the naive
            version of the pattern.
        ratios: The better-by ratio of each round, when the figure was measured
            in interleaved rounds; the report gives their median and spread.
        target: The better-by ratio the figure must reach (issue 16's targets),
            shown next to the measured one; None when there is no target.
    """

    name: str
    ours: float
    reference: float | None
    unit: str
    higher_is_better: bool = True
    reference_name: str = "naive reference"
    ratios: tuple[float, ...] = ()
    target: float | None = None

    @classmethod
    def from_rounds(
        cls,
        name: str,
        ours: Sequence[float],
        reference: Sequence[float],
        unit: str,
        *,
        higher_is_better: bool = True,
        reference_name: str = "naive reference",
        target: float | None = None,
    ) -> Figure:
        """Return the figure of interleaved rounds: medians, and one ratio per round.

        ``ours[i]`` and ``reference[i]`` must come from the same round (see
        `interleave`), so a slow moment of the machine weighs on both.
        """
        if len(ours) != len(reference) or not ours:
            raise ValueError("ours and reference need one value per round, at least one round")
        pairs = zip(ours, reference, strict=True)
        ratios = tuple(_better_by(mine, theirs, higher_is_better) for mine, theirs in pairs)
        return cls(
            name,
            statistics.median(ours),
            statistics.median(reference),
            unit,
            higher_is_better,
            reference_name,
            tuple(r for r in ratios if r is not None),
            target,
        )

    def better_by(self) -> float | None:
        """Return how many times better (>1) or worse (<1) ours is: the median over rounds."""
        if self.ratios:
            return statistics.median(self.ratios)
        if self.reference is None:
            return None
        return _better_by(self.ours, self.reference, self.higher_is_better)

    def ratio(self) -> str:
        """Return `better_by` as shown in the report ("0.93x"), or "" without a reference."""
        better = self.better_by()
        return "" if better is None else f"{better:.2f}x"

    def spread(self) -> str:
        """Return the lowest and highest ratio over the rounds ("0.88-0.97x"), or ""."""
        if len(self.ratios) < 2:
            return ""
        return f"{min(self.ratios):.2f}-{max(self.ratios):.2f}x ({len(self.ratios)} rounds)"

    def verdict(self) -> str:
        """Return "met" or "not met" against the target, or "" when there is none."""
        better = self.better_by()
        if self.target is None or better is None:
            return ""
        return f"{'met' if better >= self.target else 'not met'} (>= {self.target:g}x)"


def _better_by(ours: float, reference: float, higher_is_better: bool) -> float | None:
    if reference == 0 or ours == 0:
        return None
    return ours / reference if higher_is_better else reference / ours


T = TypeVar("T")


def interleave(rounds: int, contenders: Mapping[str, Callable[[], T]]) -> dict[str, list[T]]:
    """Run every contender once per round, rotating who goes first; return results by name.

    Round ``r`` starts with contender ``r mod n``: none of them always runs
    first (cold caches) or last (a warm machine), and a slow moment of a
    shared machine falls on every contender of that round alike.
    """
    names = list(contenders)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(contenders[name]())
    return results


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time process ``pid`` has used so far, in seconds.

    Benchmarks report the load client's own CPU next to the server's, to show
    the client is not what limits the figure.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{shown} {unit}"


def render_table(title: str, figures: Sequence[Figure]) -> str:
    """Return a Markdown section: each figure, its reference, the ratio, spread and target."""
    lines = [
        f"### {title}",
        "",
        "| figure | fastscaffold | reference | better by | spread | target |",
        "|---|---|---|---|---|---|",
    ]
    for figure in figures:
        reference = _number(figure.reference, figure.unit)
        if figure.reference is not None:
            reference = f"{figure.reference_name}: {reference}"
        lines.append(
            f"| {figure.name} | {_number(figure.ours, figure.unit)} | {reference} | "
            f"{figure.ratio()} | {figure.spread()} | {figure.verdict()} |"
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


# Programs the benchmarks run besides Python (each module's NEEDS), with the Debian
# package that has each.
PACKAGE_OF = {
    "wrk": "wrk",
    "gcc": "gcc",
    "curl": "curl",
    "redis-server": "redis-server",
    "initdb": "postgresql",
}


def missing_programs(names: Sequence[str]) -> list[str]:
    """Return ``apt-get install`` hints for the programs in ``names`` this machine lacks."""
    from tests.services import find_postgres_program

    missing = []
    for name in dict.fromkeys(names):
        package = PACKAGE_OF[name]
        # PostgreSQL's server programs live off PATH on Debian.
        found = find_postgres_program(name) if package == "postgresql" else shutil.which(name)
        if found is None:
            missing.append(f"{name} (apt-get install {package})")
    return missing
