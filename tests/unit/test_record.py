import json
from pathlib import Path

import pytest

from fastscaffold.errors import ProjectStateError
from fastscaffold.manifest import Wiring
from fastscaffold.record import FileEntry, Record, Unit, read_record, record_files, sha256_of
from tests.helpers import build_file_tree


def _record() -> Record:
    record = Record(generator_version="1.2.3")
    record.units["project"] = Unit(template="project", version="1.2.3", answers={"b": 1, "a": "x"})
    record.units["tasks"] = Unit(
        template="tasks",
        version="2",
        kind="pattern",
        answers={"workers": 4, "eager": True},
        wiring=Wiring(dependencies=("taskiq>=0.13",)),
        overlays={"pkg/tasks.toml": 'mode = "fast"\n'},
    )
    for path, content in {"z.py": b"z\n", "a.py": b"a\n"}.items():
        record.files[path] = FileEntry(sha256=sha256_of(content), unit="project")
    record.files["pkg/v3.py"] = FileEntry(sha256=sha256_of(b"v3"), unit="tasks", origin="copy")
    record.user_requirements = {"project.dependencies": ["redis"]}
    return record


def test_record_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    record = _record()
    text = record.to_json()
    assert text == _record().to_json()
    assert text.index('"a.py"') < text.index('"z.py"')  # sorted keys: stable diffs
    assert Record.from_json(text, source=tmp_path / "record.json") == record
    data = json.loads(text)
    assert data["schema"] == 2
    assert data["files"]["a.py"] == {"sha256": sha256_of(b"a\n"), "unit": "project"}
    assert data["files"]["pkg/v3.py"]["origin"] == "copy"
    assert data["units"]["tasks"]["wiring"]["dependencies"] == ["taskiq>=0.13"]


def test_record_files_keep_a_base_copy_of_each_file() -> None:
    files = record_files(_record(), {"pkg/main.py": b"print()\n"})
    assert files[".fastscaffold/base/pkg/main.py"] == b"print()\n"
    assert b'"generator"' in files[".fastscaffold/record.json"]
    assert b"commit this folder" in files[".fastscaffold/README.md"]


def test_patterns_are_ordered_by_requirement_then_name() -> None:
    record = Record(generator_version="1")
    record.units["project"] = Unit(template="project", version="1")
    for name, requires in {"web": ["db", "cache"], "cache": [], "db": [], "api": []}.items():
        record.units[name] = Unit(template=name, version="1", kind="pattern", requires=requires)
    assert record.patterns() == ["api", "cache", "db", "web"]


def test_missing_record_says_how_to_restore_it(tmp_path: Path) -> None:
    with pytest.raises(ProjectStateError) as info:
        read_record(tmp_path)
    assert "record.json is missing" in str(info.value)
    assert info.value.hint is not None and "git checkout" in info.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not valid JSON"),
        ("[]", "is not a fastscaffold record"),
        ('{"schema": 99}', "uses record schema 99"),
        ('{"schema": 2, "generator": {"version": "1"}, "units": []}', "units: Input should be"),
        (
            '{"schema": 2, "generator": {"version": "1"}, "units": {}, '
            '"files": {"a.py": {"sha256": 5, "unit": "project"}}}',
            "files.a.py.sha256: Input should be a valid string",
        ),
        (
            '{"schema": 2, "generator": {"version": "1"}, "files": {}, '
            '"units": {"project": {"template": "project", "version": "1", "answers": {"x": [1]}}}}',
            "units.project.answers.x",
        ),
    ],
)
def test_corrupt_future_or_mistyped_records_are_named_not_tracebacks(
    tmp_path: Path, text: str, message: str
) -> None:
    build_file_tree(tmp_path, {".fastscaffold/record.json": text})
    with pytest.raises(ProjectStateError) as info:
        read_record(tmp_path)
    assert message in str(info.value)
    assert info.value.hint
