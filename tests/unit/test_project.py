from pathlib import Path

import pytest

from fastscaffold.errors import ProjectConfigError, ProjectNotFoundError
from fastscaffold.project import find_project

PYPROJECT = """\
[project]
name = "shop"
dependencies = ["fastapi>=0.164"]

[tool.fastapi]
entrypoint = "shop.main:app"

[tool.fastscaffold]
package = "shop"
"""


def test_project_is_found_from_a_nested_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    nested = tmp_path / "shop" / "deep"
    nested.mkdir(parents=True)
    project = find_project(nested)
    assert project.root == tmp_path.resolve()
    assert (project.name, project.package, project.entrypoint) == ("shop", "shop", "shop.main:app")
    assert project.dependencies == ("fastapi>=0.164",)


def test_a_foreign_pyproject_is_not_a_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    with pytest.raises(ProjectNotFoundError) as info:
        find_project(tmp_path)
    assert "[tool.fastscaffold]" in str(info.value)
    assert info.value.hint is not None and "fastscaffold new" in info.value.hint


def test_missing_entrypoint_names_the_key_to_add(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.replace('entrypoint = "shop.main:app"', ""))
    with pytest.raises(ProjectConfigError) as info:
        find_project(tmp_path)
    assert "[tool.fastapi] entrypoint" in str(info.value)
    assert info.value.hint == 'Add it, e.g. entrypoint = "shop.main:app".'


def test_broken_toml_is_reported_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT + "\n[tool.fastscaffold\n")
    with pytest.raises(ProjectConfigError) as info:
        find_project(tmp_path)
    assert "is not valid TOML" in str(info.value)
    assert "line" in str(info.value)
