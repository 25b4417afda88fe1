"""Creating a project's own virtual environment, and keeping its uv.lock in step.

With uv on PATH, ``new --venv`` locks the dependencies (``uv.lock``, which the
Docker image installs with ``uv sync --locked``) and ``uv sync`` installs the
project with its ``dev`` dependency group; without uv, ``venv`` and pip
install it with its ``dev`` extra and no lock is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.errors import EnvironmentSetupError

Progress = Callable[[str], None]

_TAIL_LINES = 25
LOCK_FILE = "uv.lock"


@dataclass(frozen=True)
class VenvResult:
    """A virtual environment created for a project.

    Attributes:
        path: The ``.venv`` folder.
        python: Its interpreter.
        installer: ``uv`` or ``pip``, whichever installed the project.
        lock: The ``uv.lock`` written (None with pip).
    """

    path: Path
    python: Path
    installer: str
    lock: Path | None = None


def _steps(venv: Path, python: Path) -> tuple[str, list[tuple[str, list[str]]]]:
    """Return the installer's name and the (description, argv) steps to run."""
    uv = shutil.which("uv")
    if uv:
        # --python pins the interpreter fastscaffold runs on, so uv never
        # downloads one of its own; `sync` installs the project (editable)
        # with the dev group, exactly as the lock says.
        pinned = ["--python", sys.executable]
        return "uv", [
            ("Locking the dependencies with uv (uv.lock)", [uv, "lock", "--quiet", *pinned]),
            (
                "Creating .venv and installing the project and its dev tools with uv",
                [uv, "sync", "--quiet", "--locked", *pinned],
            ),
        ]
    return "pip", [
        ("Creating .venv", [sys.executable, "-m", "venv", str(venv)]),
        (
            "Installing the project and its dev tools with pip",
            [str(python), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        ),
    ]


def _uv_environment(venv: Path) -> dict[str, str]:
    """Return the environment uv runs in: the project's own ``.venv``, whatever is active."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # uv warns when an active venv is not the project's
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    return env


def _run_step(
    description: str, argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> None:
    try:
        completed = subprocess.run(
            list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise EnvironmentSetupError(
            f"{description} failed: {exc}.", "Install the virtualenv yourself (see README.md)."
        ) from None
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        tail = "\n".join(output[-_TAIL_LINES:])
        raise EnvironmentSetupError(
            f"{description} failed (exit code {completed.returncode}):\n{tail}",
            "Fix the problem above, then run the same `fastscaffold new` again, "
            "or create the virtualenv yourself (see README.md).",
        )


def create_venv(root: Path, *, progress: Progress | None = None) -> VenvResult:
    """Create ``root/.venv`` and install the project with its development tools into it.

    Uses uv when it is on PATH (much faster, and it writes ``uv.lock``),
    otherwise ``venv`` and pip (the ``dev`` extra, no lock).

    Args:
        root: The project folder.
        progress: Called with a description before each step.

    Raises:
        EnvironmentSetupError: A step failed; the message ends with its output.
    """
    venv = root / ".venv"
    python = venv / "bin" / "python"
    installer, steps = _steps(venv, python)
    env = _uv_environment(venv) if installer == "uv" else None
    for description, argv in steps:
        if progress is not None:
            progress(description)
        _run_step(description, argv, root, env)
    lock = root / LOCK_FILE if installer == "uv" else None
    return VenvResult(path=venv, python=python, installer=installer, lock=lock)


def relock(root: Path) -> str | None:
    """Bring ``root/uv.lock`` in step with pyproject.toml after a pattern changed it.

    Returns:
        None when the lock is up to date (or there is none), else a sentence
        saying why it is not (no uv on PATH, or ``uv lock`` failed, with its
        output's last lines) and what to run.
    """
    if not (root / LOCK_FILE).is_file():
        return None
    uv = shutil.which("uv")
    if uv is None:
        return "uv.lock is out of date and uv is not on PATH: run `uv lock` to update it."
    try:
        completed = subprocess.run(
            [uv, "lock", "--quiet"],
            cwd=root,
            env=_uv_environment(root / ".venv"),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        return f"`uv lock` could not run ({exc}): run it yourself to update uv.lock."
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        tail = "\n".join(output[-_TAIL_LINES:])
        return f"`uv lock` failed (exit code {completed.returncode}), uv.lock is stale:\n{tail}"
    return None
