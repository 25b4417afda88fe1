"""add / remove / list / show through the CLI, against the fixture patterns.

The fixtures (tests/fixtures/patterns): `greeting` (router, command, setting,
dependency; requires the `counter` block, conflicts with `rival`).
"""

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold.cli import app
from tests.helpers import read_tree

pytestmark = pytest.mark.usefixtures("fixture_patterns")

WIRING = "demo_api/_fastscaffold.py"


def _invoke(runner: CliRunner, project: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--project", str(project)])
    return result.exit_code, result.output


def _record(project: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((project / ".fastscaffold" / "record.json").read_text())


def test_add_creates_files_wires_them_and_records_everything(
    runner: CliRunner, project: Path
) -> None:
    code, output = _invoke(runner, project, "add", "greeting", "--set", "greeting=Howdy")
    assert code == 0, output
    assert "Also adding what they require: counter" in output
    assert "Added counter, greeting." in output
    assert "pip install -e '.[dev]'" in output
    router = (project / "demo_api" / "greeting" / "router.py").read_text()
    assert '"Howdy, "' in router
    wiring = (project / WIRING).read_text()
    assert "app.include_router(greeting_router.router)" in wiring
    assert "await stack.enter_async_context(counter_state.lifespan(app))" in wiring
    assert "greeting_commands.register(cli)" in wiring
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert "anyio>=4" in pyproject["project"]["dependencies"]
    assert "GREETING_NAME=world" in (project / ".env.example").read_text()
    assert "## greeting" in (project / "PATTERNS.md").read_text()
    readme = (project / "README.md").read_text()
    assert "<!-- >>> fastscaffold: greeting (managed block" in readme
    assert '"Howdy, <GREETING_NAME>!"; `python -m demo_api greet`' in readme
    record = _record(project)
    assert record["units"]["greeting"]["answers"] == {"greeting": "Howdy", "punctuation": "!"}
    assert record["units"]["greeting"]["wiring"]["dependencies"] == ["anyio>=4"]
    assert record["user_requirements"] == {}
    assert record["files"]["demo_api/greeting/router.py"]["unit"] == "greeting"
    assert (project / ".fastscaffold" / "base" / "demo_api" / "greeting" / "router.py").is_file()


def test_adding_an_applied_pattern_again_changes_nothing(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    before = read_tree(project)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 0, output
    assert "greeting is already applied: nothing to do." in output
    assert read_tree(project) == before


def test_add_then_remove_restores_the_project_byte_for_byte(
    runner: CliRunner, project: Path
) -> None:
    before = read_tree(project)
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 0, output
    assert "Removed greeting, counter." in output
    assert read_tree(project) == before


def test_dry_run_prints_the_real_diff_and_writes_nothing(runner: CliRunner, project: Path) -> None:
    before = read_tree(project)
    code, output = _invoke(runner, project, "add", "greeting", "--dry-run")
    assert code == 0, output
    assert "--- a/pyproject.toml\n+++ b/pyproject.toml\n" in output
    assert '+    "anyio>=4",\n' in output
    assert f"--- a/{WIRING}\n+++ b/{WIRING}\n" in output
    assert "+    app.include_router(greeting_router.router)\n" in output
    assert "--- /dev/null\n+++ b/demo_api/greeting/router.py\n" in output
    assert "+++ b/.fastscaffold/" not in output  # the record is not part of the diff
    assert "Would add counter, greeting." in output
    assert read_tree(project) == before


def test_wiring_is_regenerated_while_main_py_keeps_the_users_edits(
    runner: CliRunner, project: Path
) -> None:
    main = project / "demo_api" / "main.py"
    edited = main.read_text() + "\n\n# The team's own note.\n"
    main.write_text(edited)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 0, output
    assert main.read_text() == edited


def test_an_edited_wiring_module_stops_add_and_changes_nothing(
    runner: CliRunner, project: Path
) -> None:
    wiring = project / WIRING
    wiring.write_text(wiring.read_text() + "# hand-made change\n")
    before = read_tree(project)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 1
    assert "would change 1 file(s) you edited; nothing was changed" in output
    assert WIRING in output and "--force" in output
    assert read_tree(project) == before


def test_force_regenerates_an_edited_wiring_module_and_backs_it_up(
    runner: CliRunner, project: Path
) -> None:
    wiring = project / WIRING
    mine = wiring.read_text() + "# hand-made change\n"
    wiring.write_text(mine)
    code, output = _invoke(runner, project, "add", "greeting", "--force")
    assert code == 0, output
    assert "greeting_router" in wiring.read_text()
    assert (project / ".fastscaffold" / "backup" / WIRING).read_text() == mine
    assert f".fastscaffold/backup/{WIRING}" in output


def test_a_users_file_in_the_way_is_kept_and_force_writes_the_new_one_beside_it(
    runner: CliRunner, project: Path
) -> None:
    mine = project / "demo_api" / "greeting" / "router.py"
    mine.parent.mkdir()
    mine.write_text("# my own router\n")
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 1
    assert "demo_api/greeting/router.py" in output
    assert not (project / "demo_api" / "greeting" / "cli.py").exists()
    code, output = _invoke(runner, project, "add", "greeting", "--force")
    assert code == 0, output
    assert mine.read_text() == "# my own router\n"
    new = (project / "demo_api" / "greeting" / "router.py.new").read_text()
    assert '"Hello, "' in new and "GET /greeting" in new
    assert "demo_api/greeting/router.py.new" in output
    # The user's file counts as an edit of the template's version (its base), so a
    # later update merges into it instead of wrapping the whole file in markers.
    base = project / ".fastscaffold" / "base" / "demo_api" / "greeting" / "router.py"
    assert base.read_text() == new
    assert "demo_api/greeting/router.py" in _record(project)["files"]
    assert _invoke(runner, project, "check")[0] == 0


def test_remove_keeps_edited_files_and_lists_them(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    router = project / "demo_api" / "greeting" / "router.py"
    router.write_text(router.read_text() + "# tuned by us\n")
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 0, output
    assert "Kept demo_api/greeting/router.py: you edited it" in output
    assert router.read_text().endswith("# tuned by us\n")
    assert not (project / "demo_api" / "greeting" / "cli.py").exists()
    assert not (project / "demo_api" / "counter").exists()
    assert "greeting" not in (project / WIRING).read_text()
    assert "anyio" not in (project / "pyproject.toml").read_text()
    assert set(_record(project)["units"]) == {"project"}


def test_remove_force_deletes_edited_files_after_a_backup(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    router = project / "demo_api" / "greeting" / "router.py"
    router.write_text("# tuned by us\n")
    code, output = _invoke(runner, project, "remove", "greeting", "--force")
    assert code == 0, output
    assert not router.exists()
    backup = project / ".fastscaffold" / "backup" / "demo_api" / "greeting" / "router.py"
    assert backup.read_text() == "# tuned by us\n"


def test_a_required_block_cannot_be_removed_alone(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    code, output = _invoke(runner, project, "remove", "counter")
    assert code == 1
    assert "Pattern 'counter' is required by greeting." in output
    assert "fastscaffold remove greeting counter" in output


def test_conflicting_patterns_are_refused(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    code, output = _invoke(runner, project, "add", "rival")
    assert code == 1
    assert "'rival' conflicts with 'greeting', which is applied" in output


def test_unknown_pattern_lists_the_available_ones(runner: CliRunner, project: Path) -> None:
    code, output = _invoke(runner, project, "add", "greting")
    assert code == 1
    assert "Did you mean 'greeting'?" in output
    assert "Available patterns: greeting, rival" in output


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("greeting", "is not of the form key=value"),
        ("colour=red", "no pattern being added has an option 'colour'"),
        ("greeting=Hi5", "greeting must match [A-Za-z ]{1,20}"),
        ("punctuation=?", "punctuation must be one of !, ."),
        ("rival.x=1", "names 'rival', which this command does not add"),
    ],
)
def test_invalid_set_values_exit_2_and_change_nothing(
    runner: CliRunner, project: Path, setting: str, message: str
) -> None:
    before = read_tree(project)
    code, output = _invoke(runner, project, "add", "greeting", "--set", setting)
    assert code == 2, output
    assert message in output
    assert read_tree(project) == before


def test_add_outside_a_project_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    code, output = _invoke(runner, tmp_path, "add", "greeting")
    assert code == 1
    assert "No fastscaffold project found" in output


def test_list_shows_patterns_and_which_are_applied(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    code, output = _invoke(runner, project, "list", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["in_project"] is True
    rows = {row["name"]: row for row in data["patterns"]}
    assert rows["greeting"]["applied"] is True
    assert rows["greeting"]["requires"] == ["counter"]
    assert rows["rival"]["applied"] is False
    assert rows["counter"]["kind"] == "block"  # applied blocks are listed


def test_list_outside_a_project_shows_the_catalog(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "greeting" in result.output and "rival" in result.output
    assert "applied" not in result.output
    assert "counter" not in result.output.split("requires")[0]


def test_show_prints_the_usage(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", "greeting", "--raw"])
    assert result.exit_code == 0
    assert result.output.startswith("# greeting\n")
    assert "fastscaffold add greeting --set greeting=Howdy" in result.output
    unknown = runner.invoke(app, ["show", "nope"])
    assert unknown.exit_code == 1
    assert "Unknown pattern 'nope'" in unknown.output


def test_new_with_patterns_generates_them_in_one_step(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["new", "shop", "--dir", str(tmp_path), "--no-input", "--with", "greeting"]
    )
    assert result.exit_code == 0, result.output
    assert "Patterns: counter, greeting" in result.output
    assert (tmp_path / "shop" / "shop" / "greeting" / "router.py").is_file()
    assert set(_record(tmp_path / "shop")["units"]) == {"project", "counter", "greeting"}


def test_new_with_an_unknown_pattern_leaves_nothing(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["new", "shop", "--dir", str(tmp_path), "--no-input", "--with", "nope"]
    )
    assert result.exit_code == 1
    assert "Unknown pattern 'nope'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_new_all_adds_every_pattern_that_fits_together(runner: CliRunner, tmp_path: Path) -> None:
    # The fixtures include two patterns that conflict: --all reports it.
    result = runner.invoke(app, ["new", "shop", "--dir", str(tmp_path), "--no-input", "--all"])
    assert result.exit_code == 1
    assert "conflicts with" in result.output
    assert list(tmp_path.iterdir()) == []


def test_add_keeps_the_users_own_pyproject_edits(runner: CliRunner, project: Path) -> None:
    pyproject = project / "pyproject.toml"
    ours = '    # Ours: billing client.\n    "stripe>=9",\n'
    edited = pyproject.read_text().replace('    "typer>=0.16",\n', '    "typer>=0.16",\n' + ours)
    pyproject.write_text(edited)
    code, output = _invoke(runner, project, "add", "greeting")
    assert code == 0, output
    text = pyproject.read_text()
    assert ours in text
    assert '"anyio>=4"' in text
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 0, output
    assert pyproject.read_text() == edited


def test_remove_dry_run_shows_deletions_and_writes_nothing(
    runner: CliRunner, project: Path
) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    before = read_tree(project)
    code, output = _invoke(runner, project, "remove", "greeting", "--dry-run")
    assert code == 0, output
    assert "--- a/demo_api/greeting/router.py\n+++ /dev/null\n" in output
    assert "-    app.include_router(greeting_router.router)\n" in output
    assert "Would remove greeting, counter." in output
    assert read_tree(project) == before


def test_remove_with_an_edited_wiring_module_stops(runner: CliRunner, project: Path) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    wiring = project / WIRING
    wiring.write_text(wiring.read_text() + "# mine\n")
    before = read_tree(project)
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 1
    assert WIRING in output and "nothing was changed" in output
    assert read_tree(project) == before


def test_removing_a_pattern_that_is_not_applied_is_a_no_op(
    runner: CliRunner, project: Path
) -> None:
    before = read_tree(project)
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 0, output
    assert "greeting is not applied: nothing to do." in output
    assert read_tree(project) == before


def test_remove_refused_for_an_edited_file_explains_what_force_does(
    runner: CliRunner, project: Path
) -> None:
    assert _invoke(runner, project, "add", "greeting")[0] == 0
    wiring = project / WIRING
    wiring.write_text(wiring.read_text() + "# mine\n")
    code, output = _invoke(runner, project, "remove", "greeting")
    assert code == 1
    assert "FILE.new" not in output
    assert "each after a backup under .fastscaffold/backup/" in output
