"""Building one smoke project and running its checks, step by step.

The steps are those of the generated project's own CI workflow: install,
``ruff check``, ``ruff format --check``, ``mypy --strict``, its pytest, and
``fastscaffold check`` (nothing is behind the templates, nothing unresolved).
A failing lint step does not stop the others (all of them are worth
seeing); a failed build or install skips the rest of the project.
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from fastscaffold.errors import FastScaffoldError
from fastscaffold.smoke.environments import Environment, Environments
from fastscaffold.smoke.planning import PROJECT_NAME, SmokeProject
from fastscaffold.smoke.processes import Completed, ProcessGroups
from fastscaffold.smoke.results import FAILURE_TAIL_LINES, ProjectResult, Status, StepResult

STEP_TIMEOUT = 900.0
# The library's generation is in-process and not written for concurrent use;
# it is quick next to the tools, so projects take turns.
_GENERATING = threading.Lock()

ROUTE_EDIT = '''

@app.get("/ping")
async def ping() -> str:
    """Answer a liveness probe (a route the user added)."""
    return "pong"
'''
TEST_EDIT = '''"""A test the user wrote for the route they added."""

from fastapi.testclient import TestClient

from {package}.main import app


def test_ping_answers_pong() -> None:
    with TestClient(app) as client:
        assert client.get("/ping").json() == "pong"
'''
README_EDIT = "\n## Our notes\n\nDeployed by the platform team; ask in #orders.\n"


def make_user_edits(root: Path, package: str) -> None:
    """Edit a fresh project as its users would: a route, a test of it, a README note."""
    main = root / package / "main.py"
    main.write_text(main.read_text(encoding="utf-8") + ROUTE_EDIT, encoding="utf-8")
    (root / "tests" / "test_ping.py").write_text(TEST_EDIT.format(package=package), "utf-8")
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + README_EDIT, encoding="utf-8")


def build_project(project: SmokeProject, parent: Path) -> Path:
    """Generate ``project`` under ``parent`` as its plan says; return its folder.

    Raises:
        FastScaffoldError: Generating, adding or updating failed.
    """
    from fastscaffold.creation import NewOptions, new_project
    from fastscaffold.merge import ConflictMode
    from fastscaffold.patterns import add_patterns
    from fastscaffold.update import update_project

    parent.mkdir(parents=True, exist_ok=True)
    if project.update_from is not None:
        root = parent / project.update_from.name
        ignore = shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache")
        shutil.copytree(project.update_from, root, ignore=ignore, symlinks=True)
        update_project(root, conflict=ConflictMode.FAIL)
        return root
    options = NewOptions(name=PROJECT_NAME, parent=parent, patterns=project.with_patterns)
    root = new_project(options).destination
    if project.edited:
        make_user_edits(root, PROJECT_NAME.replace("-", "_"))
    for name in project.added_later:
        add_patterns(root, [name])
    return root


def _tool_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "VIRTUAL_ENV"}}
    env.update(NO_COLOR="1", PY_COLORS="0", TERM="dumb", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


class ProjectRunner:
    """Runs the steps of one project, reporting each change through ``changed``."""

    def __init__(
        self,
        result: ProjectResult,
        workdir: Path,
        *,
        groups: ProcessGroups,
        environments: Environments,
        mypy_caches: queue.Queue[Path],
        changed: Callable[[], None],
    ) -> None:
        self.result = result
        self.workdir = workdir
        self.groups = groups
        self.environments = environments
        self.mypy_caches = mypy_caches
        self.changed = changed

    def _begin(self, step: StepResult) -> bool:
        if self.groups.stopping.is_set():
            return False
        step.status = Status.RUNNING
        self.changed()
        return True

    def _end(self, step: StepResult, done: Completed, command: list[str]) -> None:
        step.command = shlex.join(command)
        step.seconds = done.seconds
        if done.returncode == 0:
            step.status = Status.PASSED
        else:
            step.status = Status.FAILED
            step.tail = done.tail[-FAILURE_TAIL_LINES:]
            step.reason = "timed out" if done.timed_out else f"exit code {done.returncode}"
        self.changed()

    def _skip_rest(self, reason: str) -> None:
        for step in self.result.steps:
            if step.status is Status.PENDING:
                step.status, step.reason = Status.SKIPPED, reason
        self.changed()

    def run(self) -> None:
        """Build the project, then run each step; never raises for a failing step."""
        generate = self.result.step("generate")
        if not self._begin(generate):
            return
        import time

        started = time.monotonic()
        try:
            with _GENERATING:
                root = build_project(self.result.project, self.workdir)
        except FastScaffoldError as exc:
            generate.status, generate.seconds = Status.FAILED, time.monotonic() - started
            generate.tail = tuple(str(exc).splitlines()[-FAILURE_TAIL_LINES:])
            generate.reason = type(exc).__name__
            self._skip_rest("the project was not generated")
            return
        generate.status, generate.seconds = Status.PASSED, time.monotonic() - started
        env = _tool_env(root)
        install = self.result.step("install")
        if not self._begin(install):
            return
        began = time.monotonic()
        made = self.environments.get(root, env)
        if isinstance(made, Completed):
            self._end(install, made, ["install", "-r", "pyproject.toml"])
            self._skip_rest("the install failed")
            return
        # The wait counts: a second project of the same set waits for the first install.
        self._ran(install, made, time.monotonic() - began)
        self._tools(root, made, env)

    def _ran(self, step: StepResult, environment: Environment, seconds: float) -> None:
        step.status, step.seconds = Status.PASSED, seconds
        step.command = f"{environment.installer} install (shared environment {environment.python})"
        self.changed()

    def _tools(self, root: Path, environment: Environment, env: dict[str, str]) -> None:
        python = str(environment.python)
        commands = {
            "ruff check": [python, "-m", "ruff", "check", "--no-cache", "."],
            "ruff format": [python, "-m", "ruff", "format", "--check", "--no-cache", "."],
            "pytest": [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"],
            "check": [sys.executable, "-m", "fastscaffold", "check"],
        }
        for name in ("ruff check", "ruff format", "mypy", "pytest", "check"):
            step = self.result.step(name)
            if not self._begin(step):
                return
            if name == "mypy":
                cache = self.mypy_caches.get()  # one mypy per cache at a time
                try:
                    argv = [python, "-m", "mypy", "--strict", "--cache-dir", str(cache)]
                    self._end(step, self._exec(argv, root, env), argv)
                finally:
                    self.mypy_caches.put(cache)
                continue
            argv = commands[name]
            self._end(step, self._exec(argv, root, env), argv)

    def _exec(self, argv: list[str], root: Path, env: dict[str, str]) -> Completed:
        return self.groups.run(argv, cwd=root, env=env, timeout=STEP_TIMEOUT)
