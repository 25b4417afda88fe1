"""What a smoke run found: per project, per step, with timings and the failing output."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fastscaffold.smoke.planning import SmokeProject

STEPS = ("generate", "install", "ruff check", "ruff format", "mypy", "pytest", "check")
FAILURE_TAIL_LINES = 40


class Status(StrEnum):
    """Where a step is: waiting, running, or how it ended."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class StepResult:
    """One step of one project.

    Attributes:
        name: One of :data:`STEPS`.
        status: Where it is.
        seconds: How long it ran (0 until it ends).
        command: The command line it ran, for the reports.
        tail: The last lines of its output when it failed (bounded).
        reason: Why it was skipped or failed, in a few words.
    """

    name: str
    status: Status = Status.PENDING
    seconds: float = 0.0
    command: str = ""
    tail: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class ProjectResult:
    """Every step of one project, in order."""

    project: SmokeProject
    steps: list[StepResult] = field(default_factory=lambda: [StepResult(n) for n in STEPS])

    @property
    def failed(self) -> list[StepResult]:
        """Return the steps that failed."""
        return [step for step in self.steps if step.status is Status.FAILED]

    def step(self, name: str) -> StepResult:
        """Return the step called ``name``."""
        return next(step for step in self.steps if step.name == name)


@dataclass
class SmokeReport:
    """The whole run: each project's results, and whether it was interrupted."""

    projects: list[ProjectResult]
    patterns: tuple[str, ...] = ()
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """Return whether every step of every project passed."""
        return not self.interrupted and all(
            step.status is Status.PASSED for result in self.projects for step in result.steps
        )

    def counts(self) -> dict[str, int]:
        """Return how many steps ended in each status."""
        counted = {status.value: 0 for status in Status}
        for result in self.projects:
            for step in result.steps:
                counted[step.status.value] += 1
        return counted
