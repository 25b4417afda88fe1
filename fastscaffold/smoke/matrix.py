"""Running a smoke matrix: validate the patterns, then build and check projects in parallel.

:func:`prepare` does everything that can fail before a minute is spent
(selecting and validating patterns, planning the projects);
:func:`run_matrix` runs the projects on ``jobs`` threads, each step in its own
process group. Ctrl-C stops every group, removes the temporary folder
(unless ``keep`` names one) and is raised again for the CLI boundary.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.errors import SmokeUsageError
from fastscaffold.smoke.environments import Environments
from fastscaffold.smoke.planning import (
    DEFAULT_COMBINATIONS,
    PROJECT_NAME,
    SmokeProject,
    plan_projects,
    select_patterns,
)
from fastscaffold.smoke.processes import ProcessGroups
from fastscaffold.smoke.results import ProjectResult, SmokeReport
from fastscaffold.smoke.steps import ProjectRunner
from fastscaffold.smoke.validation import (
    folder_problems,
    pattern_folders,
    raise_problems,
    render_problems,
)


@dataclass(frozen=True)
class SmokeOptions:
    """What ``fastscaffold smoke`` was asked to do.

    Attributes:
        patterns: Patterns named on the command line.
        every: Select every user-facing pattern (``--all``).
        patterns_path: Folders of the team's own patterns (``--patterns-path``).
        combinations: Which projects to build (see planning.COMBINATIONS).
        update_from: A project made earlier to update (``--from``).
        jobs: Projects checked at the same time.
        keep: Build the projects here and leave them (``--keep``), else in a temporary folder.
        install: Install each dependency set into an environment of its own;
            false runs every tool on fastscaffold's own interpreter.
    """

    patterns: tuple[str, ...] = ()
    every: bool = False
    patterns_path: tuple[Path, ...] = ()
    combinations: tuple[str, ...] = DEFAULT_COMBINATIONS
    update_from: Path | None = None
    jobs: int = os.cpu_count() or 1
    keep: Path | None = None
    install: bool = True


@dataclass(frozen=True)
class Prepared:
    """A validated matrix, ready to run."""

    patterns: tuple[str, ...]
    projects: list[SmokeProject]


def prepare(options: SmokeOptions) -> Prepared:
    """Select and validate the patterns and plan the projects; nothing is built.

    Must be called with the team's folders on ``FASTSCAFFOLD_PATTERNS_PATH``
    (see validation.patterns_path).

    Raises:
        SmokeUsageError: A bad option (no such folder, nothing selected, ...).
        PatternDefinitionError: A team's pattern is broken (every problem listed).
        TemplateError: A shipped pattern is broken.
        PatternError: An unknown pattern name.
    """
    if options.jobs < 1:
        raise SmokeUsageError(
            f"--jobs {options.jobs}: must be at least 1.", "Pass --jobs 1 or more."
        )
    for root in options.patterns_path:
        if not root.is_dir():
            raise SmokeUsageError(
                f"--patterns-path {root}: no such folder.",
                "Pass the folder that holds your pattern folders (each with a pattern.toml).",
            )
    team_folders = [f for root in options.patterns_path for f in pattern_folders(root)]
    raise_problems([problem for folder in team_folders for problem in folder_problems(folder)])
    from fastscaffold.catalog import load_catalog

    catalog = load_catalog()
    selected = select_patterns(
        catalog,
        options.patterns,
        every=options.every,
        team_roots=options.patterns_path,
        allow_none=not {"alone", "all", "add"} & set(options.combinations),
    )
    checked = {folder.resolve() for folder in team_folders}
    others = [catalog[n].folder for n in selected if catalog[n].folder.resolve() not in checked]
    raise_problems([problem for folder in others for problem in folder_problems(folder)])
    raise_problems(render_problems(selected, _answers()))
    projects = plan_projects(selected, options.combinations, update_from=options.update_from)
    return Prepared(selected, projects)


def _answers() -> dict[str, object]:
    """Return the base project's answers (copier's defaults) for rendering patterns."""
    from fastscaffold.creation import NewOptions, project_data
    from fastscaffold.naming import validate_project_name
    from fastscaffold.render import ask_answers
    from fastscaffold.templates import project_template

    names = validate_project_name(PROJECT_NAME)
    data = project_data(names, NewOptions(name=PROJECT_NAME, parent=Path()))
    return ask_answers(project_template(), data)


def run_matrix(
    prepared: Prepared,
    options: SmokeOptions,
    *,
    started: Callable[[list[ProjectResult]], None] | None = None,
    changed: Callable[[], None] = lambda: None,
) -> SmokeReport:
    """Build and check every planned project; return what each step found.

    Args:
        prepared: What :func:`prepare` returned.
        options: The run's options (jobs, keep, install).
        started: Called once with the live results, before anything runs
            (the CLI draws its table from them).
        changed: Called from worker threads whenever a step changes.

    Raises:
        KeyboardInterrupt: After every child was stopped and the folder removed.
    """
    results = [ProjectResult(project) for project in prepared.projects]
    if started is not None:
        started(results)
    if options.keep is not None:
        options.keep.mkdir(parents=True, exist_ok=True)
        workdir = options.keep
    else:
        workdir = Path(tempfile.mkdtemp(prefix="fastscaffold-smoke-"))
    groups = ProcessGroups()
    environments = Environments(workdir / "_environments", groups, install=options.install)
    caches: queue.Queue[Path] = queue.Queue()
    for index in range(options.jobs):
        caches.put(workdir / "_mypy-cache" / str(index))
    clock = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="smoke")
    try:
        futures = [
            pool.submit(
                ProjectRunner(
                    result, workdir / result.project.id, groups=groups,
                    environments=environments, mypy_caches=caches, changed=changed,
                ).run
            )
            for result in results
        ]  # fmt: skip
        pending = set(futures)
        while pending:  # short waits, so Ctrl-C reaches this thread promptly
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.result()  # a bug in a worker is not swallowed
    except BaseException:
        groups.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        if options.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    pool.shutdown(wait=True)
    if options.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return SmokeReport(results, prepared.patterns, time.monotonic() - clock)


__all__: Sequence[str] = ("Prepared", "SmokeOptions", "prepare", "run_matrix")
