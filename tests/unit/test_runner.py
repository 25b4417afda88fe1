import sys
from pathlib import Path

import pytest

from fastscaffold.errors import MissingDependenciesError, PortInUseError
from fastscaffold.project import Project
from fastscaffold.runner import (
    RunOptions,
    build_run_command,
    check_dependencies,
    check_port,
    project_python,
)
from tests.helpers import free_port, listening_socket


def _project(root: Path, *dependencies: str, package: str = "shop") -> Project:
    (root / package).mkdir(exist_ok=True)
    (root / package / "__init__.py").touch()
    return Project(
        root=root,
        name="shop",
        package=package,
        entrypoint=f"{package}.main:app",
        dependencies=dependencies,
    )


def test_reload_watches_only_the_package(tmp_path: Path) -> None:
    project = _project(tmp_path)
    argv = build_run_command(project, Path("/py"), RunOptions(port=9000))
    assert argv == [
        "/py", "-m", "uvicorn", "shop.main:app", "--host", "127.0.0.1", "--port", "9000",
        "--reload", "--reload-dir", str(tmp_path / "shop"),
    ]  # fmt: skip


def test_several_workers_turn_reload_off(tmp_path: Path) -> None:
    project = _project(tmp_path)
    options = RunOptions(host="0.0.0.0", port=8001, reload=True, workers=4)
    argv = build_run_command(project, Path("/py"), options)
    assert "--reload" not in argv
    assert argv[-2:] == ["--workers", "4"]
    assert build_run_command(project, Path("/py"), RunOptions(reload=False))[-1] == "8000"


def test_the_projects_own_venv_is_preferred(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert project_python(project) == Path(sys.executable)
    project.venv_python.parent.mkdir(parents=True)
    project.venv_python.symlink_to(sys.executable)
    assert project_python(project) == project.venv_python


def test_installed_dependencies_pass_the_check(tmp_path: Path) -> None:
    check_dependencies(_project(tmp_path, "pytest>=7", "typer"), Path(sys.executable))


def test_missing_and_too_old_dependencies_are_named_with_the_install_command(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, "pytest>=999", "surely-not-installed-dist>=1", "typer")
    with pytest.raises(MissingDependenciesError) as info:
        check_dependencies(project, Path(sys.executable))
    error = info.value
    assert error.missing[0].startswith("pytest>=999 (found ")
    assert error.missing[1] == "surely-not-installed-dist>=1"
    assert len(error.missing) == 2
    assert error.install_command == f"cd {tmp_path} && {sys.executable} -m pip install -e '.[dev]'"


def test_dependencies_excluded_by_their_marker_are_not_required(tmp_path: Path) -> None:
    project = _project(tmp_path, 'surely-not-installed-dist; python_version < "3"')
    check_dependencies(project, Path(sys.executable))


def test_an_unimportable_package_is_reported(tmp_path: Path) -> None:
    project = Project(tmp_path, "shop", "shop_missing", "shop_missing.main:app", ())
    with pytest.raises(MissingDependenciesError) as info:
        check_dependencies(project, Path(sys.executable))
    assert info.value.missing == ("the package 'shop_missing' itself",)


def test_a_port_in_use_is_refused() -> None:
    port = free_port()
    check_port("127.0.0.1", port)
    with listening_socket(port), pytest.raises(PortInUseError) as info:
        check_port("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert info.value.hint is not None and "--port" in info.value.hint
