"""The session under add, remove, update and check, with small patterns built in each test.

Each test writes its patterns into a folder on FASTSCAFFOLD_PATTERNS_PATH
(in the style of copier's build_file_tree) and works on a copy of the base
project, so what is asserted is the engine's behaviour, not a shipped
pattern's.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from fastscaffold.creation import NewOptions, new_project
from fastscaffold.errors import EditedFilesError, ProjectStateError
from fastscaffold.merge import ConflictMode
from fastscaffold.patterns import add_patterns, remove_patterns
from fastscaffold.policies import Outcome
from fastscaffold.update import check_project, repair_bases, update_project
from tests.helpers import build_file_tree, read_tree

PKG = "demo_api"


def make_pattern(
    root: Path,
    name: str,
    *,
    version: str = "1",
    files: dict[str, str | bytes] | None = None,
    dependencies: tuple[str, ...] = (),
    settings: tuple[tuple[str, str], ...] = (),
    readme: str | None = None,
    extra: str = "",
) -> Path:
    """Write a pattern folder (manifest, USAGE, README section, files) and return it."""
    settings_toml = ", ".join(
        f'{{ name = "{s}", default = "{d}", help = "A setting of {name}" }}' for s, d in settings
    )
    manifest = (
        f'name = "{name}"\nsummary = "The {name} pattern"\nversion = "{version}"\n{extra}\n'
        f"[wiring]\ndependencies = {json.dumps(list(dependencies))}\nsettings = [{settings_toml}]\n"
    )
    tree: dict[str, str | bytes] = {"pattern.toml": manifest, "USAGE.md": f"# {name}\n"}
    if readme is not None:
        tree["README.section.md"] = readme
    for rel, content in (
        files or {f"{{{{ package_name }}}}/{name}.py": f'"""{name}."""\n'}
    ).items():
        tree[f"files/{rel}"] = content
    shutil.rmtree(root / name, ignore_errors=True)
    return build_file_tree(root / name, tree)


@pytest.fixture
def patterns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "patterns"
    root.mkdir()
    monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(root))
    return root


def _alpha_beta(patterns: Path) -> None:
    make_pattern(
        patterns, "alpha", dependencies=("orjson>=3.10",), settings=(("ALPHA_SIZE", "8"),),
        readme="## Alpha\n\nAlpha does a.\n",
    )  # fmt: skip
    make_pattern(
        patterns, "beta", dependencies=("anyio>=4", "orjson>=3.9"),
        settings=(("BETA_MODE", "fast"),), readme="## Beta\n\nBeta does b.\n",
    )  # fmt: skip


def _list_requirement(project: Path, line: str) -> None:
    """List a requirement of the user's own in pyproject.toml, after typer."""
    pyproject = project / "pyproject.toml"
    anchor = '    "typer>=0.16",\n'
    pyproject.write_text(pyproject.read_text().replace(anchor, f"{anchor}    {line}\n"))


def _deps(project: Path) -> list[str]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def test_the_files_depend_on_the_patterns_applied_not_on_the_order(
    patterns: Path, project: Path, tmp_path: Path
) -> None:
    _alpha_beta(patterns)
    (tmp_path / "new").mkdir()
    made = new_project(
        NewOptions(
            name="demo-api",
            parent=tmp_path / "new",
            description="Demo service",
            patterns=("beta", "alpha"),
        )
    )
    other = tmp_path / "other"
    shutil.copytree(project, other)
    add_patterns(project, ["beta"])
    add_patterns(project, ["alpha"])
    add_patterns(other, ["alpha", "beta"])
    expected = read_tree(made.destination)
    assert read_tree(project) == expected
    assert read_tree(other) == expected
    assert check_project(project).ok
    # Removing and adding again comes back to the same files too.
    remove_patterns(project, ["alpha"])
    add_patterns(project, ["alpha"])
    assert read_tree(project) == expected


def test_add_then_remove_restores_an_edited_project_byte_for_byte(
    patterns: Path, project: Path
) -> None:
    _alpha_beta(patterns)
    add_patterns(project, ["alpha"])
    _list_requirement(project, '"stripe>=9",  # ours')
    with (project / ".env.example").open("a") as env:
        env.write("OURS=1\n")
    with (project / "README.md").open("a") as readme:
        readme.write("\nOur own closing words.\n")
    before = read_tree(project)
    add_patterns(project, ["beta"])
    assert check_project(project).ok
    deps = _deps(project)
    # The pattern's requirements go after everything listed, the user's own line included.
    assert deps[-2:] == ["orjson>=3.10", "anyio>=4"] and "stripe>=9" in deps[:-2]
    assert "OURS=1\n" in (project / ".env.example").read_text()
    remove_patterns(project, ["beta"])
    assert read_tree(project) == before


def test_a_requirement_the_user_listed_first_stays_theirs(patterns: Path, project: Path) -> None:
    _alpha_beta(patterns)
    _list_requirement(project, '"orjson>=3.10",')
    add_patterns(project, ["alpha"])
    assert _deps(project).count("orjson>=3.10") == 1
    record = json.loads((project / ".fastscaffold" / "record.json").read_text())
    assert record["user_requirements"] == {"project.dependencies": ["orjson"]}
    assert check_project(project).ok
    assert update_project(project).project_changes == []
    remove_patterns(project, ["alpha"])
    assert "orjson>=3.10" in _deps(project)


def test_update_merges_a_new_pattern_version_into_edited_files(
    patterns: Path, project: Path
) -> None:
    module = "{{ package_name }}/alpha.py"
    lines = [f"VALUE_{n} = {n}\n" for n in range(12)]
    make_pattern(patterns, "alpha", files={module: "".join(lines)})
    add_patterns(project, ["alpha"])
    mine = project / PKG / "alpha.py"
    mine.write_text(mine.read_text().replace("VALUE_9 = 9", "VALUE_9 = 99  # ours"))
    changed = [*lines]
    changed[1], changed[9] = "VALUE_1 = 10\n", "VALUE_9 = 90\n"
    make_pattern(patterns, "alpha", version="2", files={module: "".join(changed)})
    report = check_project(project)
    assert report.behind == {f"{PKG}/alpha.py": "conflict"}
    # rej: the clean hunk lands, only the overlapping one is held back.
    result = update_project(project, conflict=ConflictMode.REJ)
    assert result.outcomes[f"{PKG}/alpha.py"] is Outcome.CONFLICT
    text = mine.read_text()
    assert "VALUE_1 = 10\n" in text and "VALUE_9 = 99  # ours\n" in text
    rejected = (project / PKG / "alpha.py.rej").read_text()
    assert "-VALUE_9 = 9\n+VALUE_9 = 90\n" in rejected and "VALUE_1 = 10" not in rejected
    assert check_project(project).rejects == (f"{PKG}/alpha.py.rej",)
    (project / PKG / "alpha.py.rej").unlink()
    assert check_project(project).ok
    assert update_project(project).project_changes == []


def test_a_binary_file_changed_only_by_the_user_is_not_a_conflict(
    patterns: Path, project: Path
) -> None:
    logo = "{{ package_name }}/logo.bin"
    make_pattern(patterns, "alpha", files={logo: b"\x00\xffv1"})
    add_patterns(project, ["alpha"])
    (project / PKG / "logo.bin").write_bytes(b"\x00\xffours")
    assert check_project(project).ok
    make_pattern(patterns, "alpha", version="2", files={logo: b"\x00\xffv2"})
    assert check_project(project).behind == {f"{PKG}/logo.bin": "conflict"}
    (project / PKG / "logo.bin").write_bytes(b"\x00\xffv1")  # back as generated
    assert update_project(project).outcomes == {f"{PKG}/logo.bin": Outcome.UPDATED}
    assert (project / PKG / "logo.bin").read_bytes() == b"\x00\xffv2"


def test_a_settings_rename_follows_the_users_value_and_the_base(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", settings=(("ALPHA_TARGET", "world"),))
    add_patterns(project, ["alpha"])
    env = project / ".env.example"
    env.write_text(env.read_text().replace("# ALPHA_TARGET=world", "ALPHA_TARGET=team"))
    migration = (
        '[[migrations]]\nversion = "2"\n'
        'rename_setting = { from = "ALPHA_TARGET", to = "ALPHA_NAME" }\n'
    )
    make_pattern(
        patterns, "alpha", version="2", settings=(("ALPHA_NAME", "world"),), extra=migration
    )
    result = update_project(project)
    assert result.conflicts == []
    text = env.read_text()
    assert "ALPHA_NAME=team\n" in text and "ALPHA_TARGET" not in text
    assert update_project(project).project_changes == []


def test_edit_commands_leave_a_project_behind_newer_templates_as_far_behind(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", files={"{{ package_name }}/alpha.py": "A = 1\n"})
    add_patterns(project, ["alpha"])
    make_pattern(patterns, "alpha", version="2", files={"{{ package_name }}/alpha.py": "A = 2\n"})
    make_pattern(patterns, "beta")
    add_patterns(project, ["beta"])
    assert (project / PKG / "alpha.py").read_text() == "A = 1\n"  # left for update
    assert check_project(project).behind == {f"{PKG}/alpha.py": "updated"}
    update_project(project)
    assert (project / PKG / "alpha.py").read_text() == "A = 2\n"
    assert check_project(project).ok


def test_build_artefacts_in_templates_are_never_rendered_or_recorded(
    patterns: Path, project: Path
) -> None:
    make_pattern(
        patterns,
        "alpha",
        files={
            "{{ package_name }}/alpha.py": "A = 1\n",
            "{{ package_name }}/__pycache__/alpha.cpython-311.pyc": b"\x00compiled",
            "{{ package_name }}/.alpha.py.swp": b"\x00swap",
            ".DS_Store": b"\x00finder",
        },
    )
    add_patterns(project, ["alpha"])
    assert not (project / PKG / "__pycache__").exists()
    assert not (project / ".DS_Store").exists()
    record = json.loads((project / ".fastscaffold" / "record.json").read_text())
    assert not [p for p in record["files"] if "pycache" in p or p.endswith((".swp", ".DS_Store"))]


def test_a_missing_base_is_named_and_repaired_where_that_is_exact(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", files={"{{ package_name }}/alpha.py": "A = 1\n"})
    add_patterns(project, ["alpha"])
    base = project / ".fastscaffold" / "base"
    (base / PKG / "alpha.py").unlink()
    (base / PKG / "main.py").write_text("# tampered\n")
    (project / PKG / "main.py").write_text((project / PKG / "main.py").read_text() + "# ours\n")
    before = read_tree(project)
    for command in (lambda: update_project(project), lambda: check_project(project),
                    lambda: add_patterns(project, ["beta"])):  # fmt: skip
        with pytest.raises(ProjectStateError, match="2 base copies") as info:
            command()
        assert "check --repair" in (info.value.hint or "")
    assert read_tree(project) == before
    # alpha.py is unedited (rebuilt from it); main.py is edited, but the
    # installed templates still render exactly what was recorded.
    report = repair_bases(project)
    assert report.rebuilt == {
        f"{PKG}/alpha.py": "your unedited file",
        f"{PKG}/main.py": "the templates",
    }
    assert report.unrepairable == ()
    assert check_project(project).ok


def test_a_base_that_cannot_be_rebuilt_exactly_is_listed_not_guessed(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", files={"{{ package_name }}/alpha.py": "A = 1\n"})
    add_patterns(project, ["alpha"])
    (project / ".fastscaffold" / "base" / PKG / "alpha.py").unlink()
    (project / PKG / "alpha.py").write_text("A = 1  # ours\n")
    make_pattern(patterns, "alpha", files={"{{ package_name }}/alpha.py": "A = 2\n"})
    report = repair_bases(project)
    assert report.rebuilt == {} and report.unrepairable == (f"{PKG}/alpha.py",)
    assert not (project / ".fastscaffold" / "base" / PKG / "alpha.py").exists()


def test_a_renamed_package_is_named(patterns: Path, project: Path) -> None:
    (project / PKG).rename(project / "renamed_api")
    with pytest.raises(ProjectStateError, match=f"The package folder {PKG}/ is missing"):
        update_project(project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(f'package = "{PKG}"', 'package = "renamed_api"')
    )
    with pytest.raises(ProjectStateError, match="names the package 'renamed_api'"):
        update_project(project)


def test_re_adding_over_kept_files_with_force_records_their_base(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", files={"{{ package_name }}/alpha.py": "A = 1\n"})
    add_patterns(project, ["alpha"])
    (project / PKG / "alpha.py").write_text("A = 1  # ours\n")
    remove_patterns(project, ["alpha"])
    assert (project / PKG / "alpha.py").read_text() == "A = 1  # ours\n"  # kept
    with pytest.raises(EditedFilesError):
        add_patterns(project, ["alpha"])
    change = add_patterns(project, ["alpha"], force=True)
    assert change.side_files == (f"{PKG}/alpha.py.new",)
    (project / PKG / "alpha.py.new").unlink()
    # The user's file is theirs; update leaves it alone rather than wrapping it in markers.
    result = update_project(project)
    assert result.conflicts == [] and (project / PKG / "alpha.py").read_text() == "A = 1  # ours\n"


def test_a_damaged_managed_block_is_a_manual_step_and_the_file_is_left_alone(
    patterns: Path, project: Path
) -> None:
    make_pattern(patterns, "alpha", settings=(("ALPHA_SIZE", "8"),))
    make_pattern(patterns, "beta", settings=(("BETA_SIZE", "8"),))
    add_patterns(project, ["alpha"])
    env = project / ".env.example"
    damaged = env.read_text().replace("# <<< fastscaffold: alpha\n", "")
    env.write_text(damaged)
    change = add_patterns(project, ["beta"])
    assert env.read_text() == damaged
    assert any("alpha is not closed" in step for step in change.manual_steps)
    assert not check_project(project).ok  # the block is still owed


def test_a_patterns_dev_tools_go_to_the_dev_group_and_the_dev_extra_and_leave_both(
    patterns: Path, project: Path
) -> None:
    # uv installs the PEP 735 group, pip the extra: both must list the tool.
    make_pattern(patterns, "tooling", extra="", dependencies=())
    manifest = patterns / "tooling" / "pattern.toml"
    manifest.write_text(manifest.read_text() + 'dev_dependencies = ["pytest-randomly>=3.15"]\n')

    def dev_arrays() -> tuple[list[str], list[str]]:
        data = tomllib.loads((project / "pyproject.toml").read_text())
        return data["dependency-groups"]["dev"], data["project"]["optional-dependencies"]["dev"]

    add_patterns(project, ["tooling"])
    group, extra = dev_arrays()
    assert "pytest-randomly>=3.15" in group
    assert "pytest-randomly>=3.15" in extra
    assert group == extra

    remove_patterns(project, ["tooling"])
    group, extra = dev_arrays()
    assert not any("pytest-randomly" in item for item in [*group, *extra])
