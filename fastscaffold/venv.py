"""Creating a project's own virtual environment and installing it there."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.errors import EnvironmentSetupError

Progress = Callable[[str], None]

_TAIL_LINES = 25


@dataclass(frozen=True)
class VenvResult:
    """A virtual environment created for a project.

    Attributes:
        path: The ``.venv`` folder.
        python: Its interpreter.
        installer: ``uv`` or ``pip``, whichever installed the project.
    """

    path: Path
    python: Path
    installer: str


def _steps(venv: Path, python: Path) -> tuple[str, list[tuple[str, list[str]]]]:
    """Return the installer's name and the (description, argv) steps to run."""
    uv = shutil.which("uv")
    if uv:
        # --python pins the interpreter fastscaffold runs on, so uv never
        # downloads one of its own.
        return "uv", [
            (
                "Creating .venv with uv",
                [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            ),
            (
                "Installing the project and its dev tools with uv",
                [uv, "pip", "install", "--quiet", "--python", str(python), "-e", ".[dev]"],
            ),
        ]
    return "pip", [
        ("Creating .venv", [sys.executable, "-m", "venv", str(venv)]),
        (
            "Installing the project and its dev tools with pip",
            [str(python), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        ),
    ]


def _run_step(description: str, argv: Sequence[str], cwd: Path) -> None:
    try:
        completed = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
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
    """Create ``root/.venv`` and install the project with its ``dev`` extra into it.

    Uses uv when it is on PATH (much faster), otherwise ``venv`` and pip.

    Args:
        root: The project folder.
        progress: Called with a description before each step.

    Raises:
        EnvironmentSetupError: A step failed; the message ends with its output.
    """
    venv = root / ".venv"
    python = venv / "bin" / "python"
    installer, steps = _steps(venv, python)
    for description, argv in steps:
        if progress is not None:
            progress(description)
        _run_step(description, argv, root)
    return VenvResult(path=venv, python=python, installer=installer)
