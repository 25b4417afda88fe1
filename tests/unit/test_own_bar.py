"""fastscaffold's own code meets the bar it sets for the projects it generates.

ruff (lint and format) over the whole repository, templates' Python and tests included,
and mypy --strict over the package, with the settings in pyproject.toml.
"""

import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "--quiet", "."],
        ["ruff", "format", "--check", "--quiet", "."],
        ["mypy", "--no-error-summary"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_the_repository_is_clean(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
