"""Virtual environments for smoke projects: one per set of dependencies, shared.

Projects whose ``pyproject.toml`` asks for the same requirements (with the
``dev`` extra) share one environment, installed once: with uv when it is on
PATH, else ``venv`` and pip. The project itself is not installed into it;
its steps run from the project folder with the folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.smoke.processes import Completed, ProcessGroups

INSTALL_TIMEOUT = 1800.0


def requirements(project: Path) -> tuple[str, ...]:
    """Return the project's requirements and its ``dev`` extra's, sorted."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    table = data.get("project", {})
    found = [*table.get("dependencies", []), *table.get("optional-dependencies", {}).get("dev", [])]
    own = str(table.get("name", ""))
    # A self-reference (``name[extra]``) is the project itself, not something to install.
    return tuple(sorted({r for r in found if not r.startswith((f"{own}[", f"{own} "))}))


@dataclass(frozen=True)
class Environment:
    """An environment the steps run in: its interpreter, and how it was made."""

    python: Path
    installer: str


class Environments:
    """Creates environments on demand, each once, under ``root``.

    With ``install`` false every project runs on the interpreter fastscaffold
    runs on (which must already have what the projects need).
    """

    def __init__(self, root: Path, groups: ProcessGroups, *, install: bool = True) -> None:
        self.root = root
        self.groups = groups
        self.install = install
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._made: dict[str, Environment | Completed] = {}

    def get(self, project: Path, env: dict[str, str]) -> Environment | Completed:
        """Return the environment for ``project``'s requirements, or the failed install."""
        if not self.install:
            return Environment(Path(sys.executable), "none")
        wanted = requirements(project)
        key = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:12]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # a second project with the same set waits for the first install
            if key not in self._made:
                self._made[key] = self._create(self.root / key, wanted, project, env)
            return self._made[key]

    def _create(
        self, folder: Path, wanted: tuple[str, ...], cwd: Path, env: dict[str, str]
    ) -> Environment | Completed:
        python = folder / "bin" / "python"
        uv = shutil.which("uv")
        if uv:
            installer = "uv"
            steps = [
                [uv, "venv", "--quiet", "--python", sys.executable, str(folder)],
                [uv, "pip", "install", "--quiet", "--python", str(python), *wanted],
            ]
        else:
            installer = "pip"
            steps = [
                [sys.executable, "-m", "venv", str(folder)],
                [str(python), "-m", "pip", "install", "--quiet", *wanted],
            ]
        lines: list[str] = []
        seconds = 0.0
        for argv in steps:
            done = self.groups.run(argv, cwd=cwd, env=env, timeout=INSTALL_TIMEOUT)
            lines += done.tail
            seconds += done.seconds
            if done.returncode != 0:
                return Completed(done.returncode, tuple(lines), seconds, done.timed_out)
        return Environment(python, installer)
