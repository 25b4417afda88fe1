"""The shipped patterns' options (`--set`), through `new`, `add`, `show` and `update`.

An option is the default of one of the pattern's settings: the value given
must reach the code's default, `.env.example` and the record, survive an
`update`, and be listed by `show`.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fastscaffold.cli import app
from tests.helpers import read_tree


def _invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _options(project: Path, pattern: str) -> dict[str, object]:
    record = json.loads((project / ".fastscaffold" / "record.json").read_text())
    return dict(record["units"][pattern]["answers"])


def test_new_with_set_writes_each_default_where_the_app_and_users_read_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, output = _invoke(
        runner, "new", "shop", "--dir", str(tmp_path), "--no-input",
        "--with", "tasks,websockets,upload",
        "--set", "tasks.engine=taskiq", "--set", "queue_size=64",
        "--set", "upload.allowed_types=image/png",
    )  # fmt: skip
    assert code == 0, output
    project = tmp_path / "shop"
    assert _options(project, "tasks") == {"engine": "taskiq"}
    assert _options(project, "websockets")["queue_size"] == 64
    assert _options(project, "upload")["allowed_types"] == "image/png"
    tasks_settings = (project / "shop" / "tasks" / "settings.py").read_text()
    assert '= "taskiq"' in tasks_settings
    env_example = (project / ".env.example").read_text()
    assert "TASKS_ENGINE=taskiq" in env_example
    assert "WS_QUEUE_SIZE=64" in env_example
    assert "UPLOAD_ALLOWED_TYPES=image/png" in env_example
    # The options are answers, not edits: the project is in step, and update keeps them.
    before = read_tree(project)
    assert _invoke(runner, "check", "--project", str(project))[0] == 0
    code, output = _invoke(runner, "update", "--project", str(project))
    assert code == 0, output
    assert read_tree(project) == before


def test_add_with_set_applies_the_option_to_the_pattern_being_added(
    runner: CliRunner, project: Path
) -> None:
    code, output = _invoke(
        runner, "add", "websockets", "--set", "queue_size=128", "--project", str(project)
    )
    assert code == 0, output
    assert _options(project, "websockets")["queue_size"] == 128
    assert "WS_QUEUE_SIZE=128" in (project / ".env.example").read_text()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("tasks.engine=celery", "engine must be one of auto, embedded, taskiq"),
        ("websockets.queue_size=many", "queue_size"),
        ("tasks.colour=red", "'tasks' has no option 'colour'"),
    ],
)
def test_a_bad_option_value_exits_2_and_creates_nothing(
    runner: CliRunner, tmp_path: Path, setting: str, message: str
) -> None:
    code, output = _invoke(
        runner, "new", "shop", "--dir", str(tmp_path), "--no-input",
        "--with", "tasks,websockets", "--set", setting,
    )  # fmt: skip
    assert code == 2, output
    assert message in output
    assert list(tmp_path.iterdir()) == []


def test_new_with_set_but_no_pattern_says_what_is_missing(
    runner: CliRunner, tmp_path: Path
) -> None:
    code, output = _invoke(
        runner, "new", "shop", "--dir", str(tmp_path), "--no-input", "--set", "queue_size=64"
    )
    assert code == 2, output
    assert "--set needs a pattern to apply to" in output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("pattern", "option"),
    [("tasks", "engine"), ("websockets", "queue_size"), ("upload", "max_bytes")],
)
def test_show_lists_each_option_with_its_default(
    runner: CliRunner, pattern: str, option: str
) -> None:
    code, output = _invoke(runner, "show", pattern, "--raw")
    assert code == 0, output
    assert "## Options" in output
    assert f"`{option}`" in output
