"""Validating pattern folders before a smoke run: every problem, with its file and field."""

import os
from pathlib import Path

import pytest

from fastscaffold.catalog import PATH_VARIABLE
from fastscaffold.errors import PatternDefinitionError, TemplateError
from fastscaffold.smoke.matrix import _answers
from fastscaffold.smoke.validation import (
    Problem,
    folder_problems,
    pattern_folders,
    patterns_path,
    raise_problems,
    render_problems,
)
from tests.helpers import REPO_ROOT

SMOKE = REPO_ROOT / "tests" / "fixtures" / "smoke"


def test_a_broken_manifest_is_reported_with_its_file_and_fields() -> None:
    problems = folder_problems(SMOKE / "broken" / "loud")
    messages = [p.message for p in problems]
    manifest = str(SMOKE / "broken" / "loud" / "pattern.toml")
    assert any(
        m.startswith(manifest) and "summary: Input should be a valid string" in m for m in messages
    )
    assert any("wirng: Extra inputs are not permitted" in m for m in messages)
    assert any("has no tests" in m for m in messages)


def test_a_folder_without_usage_or_tests_gets_both_problems() -> None:
    messages = [p.message for p in folder_problems(SMOKE / "broken" / "mute")]
    assert any("has no USAGE.md" in m for m in messages)
    assert any("has no tests" in m for m in messages)


def test_good_and_shipped_folders_have_no_problems() -> None:
    assert folder_problems(SMOKE / "good" / "tiny") == []
    for folder in pattern_folders(REPO_ROOT / "templates" / "patterns"):
        assert folder_problems(folder) == [], folder


def test_a_template_naming_an_undefined_variable_is_found_before_anything_runs() -> None:
    with patterns_path([SMOKE / "unrenderable"]):
        problems = render_problems(["typo"], _answers())
    assert len(problems) == 1
    assert "test_typo.py.jinja" in problems[0].message
    assert "'pakage_name' is undefined" in problems[0].message


def test_problems_of_a_team_are_theirs_and_of_shipped_patterns_a_bug() -> None:
    raise_problems([])
    team = Problem(SMOKE / "broken" / "loud", "first")
    shipped = Problem(REPO_ROOT / "templates" / "patterns" / "tasks", "second")
    with pytest.raises(PatternDefinitionError) as raised:
        raise_problems([team, shipped])
    assert "2 problem(s)" in str(raised.value) and "first" in str(raised.value)
    with pytest.raises(TemplateError):
        raise_problems([shipped])


def test_patterns_path_is_prepended_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PATH_VARIABLE, "/earlier")
    with patterns_path([Path("/a")]):
        assert os.environ[PATH_VARIABLE] == os.pathsep.join(["/a", "/earlier"])
    assert os.environ[PATH_VARIABLE] == "/earlier"
    monkeypatch.delenv(PATH_VARIABLE)
    with patterns_path([]):
        assert PATH_VARIABLE not in os.environ
    assert PATH_VARIABLE not in os.environ
