"""``fastscaffold smoke``: prove in CI that patterns generate projects that pass their checks.

planning (which projects), validation (pattern folders before anything
runs), matrix (running them in parallel), steps (one project's checks),
processes (process groups), environments (shared virtualenvs), results and
reports (JSON, JUnit). The library never prints or exits.
"""

from fastscaffold.smoke.matrix import Prepared, SmokeOptions, prepare, run_matrix
from fastscaffold.smoke.planning import COMBINATIONS, SmokeProject, parse_combinations
from fastscaffold.smoke.reports import to_json, to_junit
from fastscaffold.smoke.results import STEPS, ProjectResult, SmokeReport, Status, StepResult
from fastscaffold.smoke.validation import patterns_path

__all__ = [
    "COMBINATIONS",
    "STEPS",
    "Prepared",
    "ProjectResult",
    "SmokeOptions",
    "SmokeProject",
    "SmokeReport",
    "Status",
    "StepResult",
    "parse_combinations",
    "patterns_path",
    "prepare",
    "run_matrix",
    "to_json",
    "to_junit",
]
