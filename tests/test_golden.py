"""Golden test: the rendered base project, file by file, against tests/golden/.

After an intended template change, regenerate with
`python -m pytest tests/test_golden.py --update-golden` and review the diff.
"""

import difflib
import shutil
from pathlib import Path

import pytest

from fastscaffold.creation import NewOptions, new_project
from tests.helpers import read_tree

GOLDEN = Path(__file__).parent / "golden" / "base-project"
# The base copies repeat the project's files; record.json already pins their hashes.
EXCLUDED = (".fastscaffold/base/",)

OPTIONS = {"name": "golden-api", "description": "Golden service"}


def _render(parent: Path) -> dict[str, str]:
    parent.mkdir(exist_ok=True)
    result = new_project(NewOptions(parent=parent, **OPTIONS))  # type: ignore[arg-type]
    return read_tree(result.destination, exclude_prefixes=EXCLUDED)


def test_base_project_matches_the_golden_tree(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rendered = _render(tmp_path)
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in rendered.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    expected = read_tree(GOLDEN)
    assert sorted(rendered) == sorted(expected), "file list differs from tests/golden/"
    for rel, text in rendered.items():
        if text != expected[rel]:
            diff = "".join(
                difflib.unified_diff(
                    expected[rel].splitlines(True), text.splitlines(True), f"golden/{rel}", rel
                )
            )
            pytest.fail(f"{rel} differs from the golden copy:\n{diff}")


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = _render(tmp_path / "one")
    second = _render(tmp_path / "two")
    assert first == second
