"""A generated project as a test sees it: run its tools, serve it, change it, check it.

:class:`GeneratedProject` is what the pytest plugin (fastscaffold.pytest_plugin)
hands to pattern authors; it wraps the same library calls as the CLI
(``new``, ``add``, ``remove``, ``update``, ``check``), so a test covers the
whole lifecycle of a project, not only its first rendering.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastscaffold.merge import ConflictMode

if TYPE_CHECKING:
    from fastscaffold.patterns import PatternChange
    from fastscaffold.update import CheckReport, UpdateResult

SERVE_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class GeneratedProject:
    """A project generated for a test, and helpers to use it.

    Attributes:
        root: The project folder.
        python: The interpreter its tools run on (default: the one running the tests).
    """

    root: Path
    python: str = field(default=sys.executable)

    @property
    def package(self) -> str:
        """Return the project's import package."""
        from fastscaffold.project import find_project

        return find_project(self.root).package

    def run(
        self, tool: str, *args: str, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run a tool of the project (``pytest``, ``ruff``, ``mypy``, ...) as ``python -m tool``.

        The output is captured; the return code is not checked (assert on it).
        """
        env = {**os.environ, "NO_COLOR": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH")) if p)
        return subprocess.run(
            [self.python, "-m", tool, *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def edit(self, path: str, change: Callable[[str], str]) -> None:
        """Edit the file at ``path`` (relative to the project) as a user would."""
        target = self.root / path
        target.write_text(change(target.read_text(encoding="utf-8")), encoding="utf-8")

    def add(self, *names: str, settings: Sequence[str] = (), force: bool = False) -> PatternChange:
        """Add patterns, as ``fastscaffold add`` does."""
        from fastscaffold.patterns import add_patterns

        return add_patterns(self.root, names, settings=settings, force=force)

    def remove(self, *names: str, force: bool = False) -> PatternChange:
        """Remove patterns, as ``fastscaffold remove`` does."""
        from fastscaffold.patterns import remove_patterns

        return remove_patterns(self.root, names, force=force)

    def update(self, *, conflict: ConflictMode = ConflictMode.FAIL) -> UpdateResult:
        """Bring the project up to the installed templates (overlapping edits fail by default)."""
        from fastscaffold.update import update_project

        return update_project(self.root, conflict=conflict)

    def check(self) -> CheckReport:
        """Return what ``fastscaffold check`` finds (``.ok``: nothing behind or unresolved)."""
        from fastscaffold.update import check_project

        return check_project(self.root)

    @contextlib.contextmanager
    def serve(self, *, timeout: float = SERVE_TIMEOUT) -> Iterator[str]:
        """Serve the project with uvicorn on a free port; yield its base URL, stop it after.

        Raises:
            RuntimeError: The server exited or did not listen within ``timeout`` seconds.
        """
        from fastscaffold.project import find_project

        port = free_port()
        entrypoint = find_project(self.root).entrypoint
        argv = [
            self.python,
            "-m",
            "uvicorn",
            entrypoint,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(
            argv, cwd=self.root, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {process.returncode}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not listen on port {port} in {timeout} s")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def generate(
    parent: Path,
    *,
    name: str = "smoke-api",
    patterns: Sequence[str] = (),
    settings: Sequence[str] = (),
) -> GeneratedProject:
    """Generate a project under ``parent``, as ``fastscaffold new NAME --with ...`` does."""
    from fastscaffold.creation import NewOptions, new_project

    options = NewOptions(
        name=name, parent=parent, patterns=tuple(patterns), settings=tuple(settings)
    )
    return GeneratedProject(new_project(options).destination)
