"""Structural TOML merges: requirement sets, key-level three-way merges, never markers."""

import tomllib

import pytest

from fastscaffold.dependencies import layer_requirements
from fastscaffold.toml_merge import InvalidTomlError, merge_toml

TEMPLATE = """\
[project]
name = "shop"
dependencies = [
    "fastapi>=0.164",
    "typer>=0.16",
]

[project.optional-dependencies]
dev = [
    "pytest>=8",
]

[tool.ruff]
line-length = 100
"""


def _with(*requirements: str, text: str = TEMPLATE) -> str:
    import tomlkit

    document = tomlkit.parse(text)
    layer_requirements(document, {"project.dependencies": list(requirements)})
    return tomlkit.dumps(document)


def _deps(text: str) -> list[str]:
    return list(tomllib.loads(text)["project"]["dependencies"])


def _merge(base: str, ours: str, theirs: str, owned: dict[str, set[str]] | None = None) -> str:
    text, conflicts = merge_toml(
        base, ours, theirs, source="pyproject.toml", user_requirements=owned
    )
    assert not conflicts
    return text


def test_layer_appends_only_distributions_the_file_lacks() -> None:
    assert _deps(_with("redis>=5", "TYPER>=1", "redis>=6")) == [
        "fastapi>=0.164",
        "typer>=0.16",
        "redis>=5",
    ]


def test_a_users_own_requirement_survives_add_and_remove_of_a_pattern() -> None:
    ours = TEMPLATE.replace(
        '    "typer>=0.16",\n', '    "typer>=0.16",\n    # ours\n    "orjson>=3.10",\n'
    )
    owned: dict[str, set[str]] = {}
    added = _merge(TEMPLATE, ours, _with("redis>=5.2"), owned)
    assert _deps(added) == ["fastapi>=0.164", "typer>=0.16", "orjson>=3.10", "redis>=5.2"]
    assert "    # ours\n" in added
    assert _merge(_with("redis>=5.2"), added, TEMPLATE, owned) == ours


def test_a_requirement_the_user_listed_first_is_neither_duplicated_nor_removed() -> None:
    ours = TEMPLATE.replace('    "typer>=0.16",\n', '    "typer>=0.16",\n    "redis>=5.2",\n')
    owned: dict[str, set[str]] = {}
    added = _merge(TEMPLATE, ours, _with("redis>=5.2"), owned)
    assert added == ours and owned == {"project.dependencies": {"redis"}}
    removed = _merge(_with("redis>=5.2"), added, TEMPLATE, owned)
    assert _deps(removed).count("redis>=5.2") == 1  # still the user's
    assert owned == {"project.dependencies": set()}


def test_a_requirement_the_user_changed_is_theirs() -> None:
    ours = _with("redis>=5.2").replace("redis>=5.2", "redis==5.3.1")
    assert _deps(_merge(_with("redis>=5.2"), ours, TEMPLATE)) == [
        "fastapi>=0.164",
        "typer>=0.16",
        "redis==5.3.1",
    ]


def test_a_template_version_bump_reaches_an_unchanged_requirement() -> None:
    ours = TEMPLATE.replace("[tool.ruff]\n", "[tool.mine]\nx = 1\n\n[tool.ruff]\n")
    theirs = TEMPLATE.replace("fastapi>=0.164", "fastapi>=0.170")
    assert _deps(_merge(TEMPLATE, ours, theirs))[0] == "fastapi>=0.170"
    pinned = ours.replace("fastapi>=0.164", "fastapi==0.165")
    assert _deps(_merge(TEMPLATE, pinned, theirs))[0] == "fastapi==0.165"


def test_keys_merge_three_ways_and_both_changed_is_a_reported_conflict() -> None:
    theirs = TEMPLATE.replace("line-length = 100", "line-length = 110\ntarget-version = 'py311'")
    ours = TEMPLATE.replace("line-length = 100", "line-length = 120")
    text, conflicts = merge_toml(TEMPLATE, ours, theirs, source="pyproject.toml")
    data = tomllib.loads(text)
    assert data["tool"]["ruff"] == {"line-length": 120, "target-version": "py311"}
    assert [c.key for c in conflicts] == ["tool.ruff.line-length"]
    assert "now say 110" in conflicts[0].describe() and "yours is 120" in conflicts[0].describe()
    forced, _ = merge_toml(TEMPLATE, ours, theirs, source="pyproject.toml", prefer_theirs=True)
    assert tomllib.loads(forced)["tool"]["ruff"]["line-length"] == 110


def test_new_tables_arrive_dropped_ones_go_and_deleted_keys_stay_deleted() -> None:
    theirs = TEMPLATE.replace("[tool.ruff]\nline-length = 100\n", "[tool.mypy]\nstrict = true\n")
    ours = TEMPLATE.replace('name = "shop"\n', "")
    data = tomllib.loads(_merge(TEMPLATE, ours, theirs))
    assert data["tool"] == {"mypy": {"strict": True}}
    assert "name" not in data["project"]


def test_invalid_toml_is_named_with_its_line() -> None:
    broken = TEMPLATE + "<<<<<<< yours\n"
    with pytest.raises(InvalidTomlError, match=r"pyproject.toml is not valid TOML \(line 15"):
        merge_toml(TEMPLATE, broken, _with("redis"), source="pyproject.toml")
