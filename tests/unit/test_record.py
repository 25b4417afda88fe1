import json
from pathlib import Path

import pytest

from fastscaffold.errors import ProjectConfigError
from fastscaffold.record import Record, Unit, read_record, record_files, sha256_of


def _record() -> Record:
    record = Record(generator_version="1.2.3")
    record.units["project"] = Unit(template="project", version="1.2.3", answers={"b": 1, "a": "x"})
    record.track({"z.py": b"z\n", "a.py": b"a\n"}, unit="project")
    return record


def test_record_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    record = _record()
    text = record.to_json()
    assert text == _record().to_json()
    assert text.index('"a.py"') < text.index('"z.py"')  # sorted keys: stable diffs
    assert Record.from_json(text, source=tmp_path) == record
    assert json.loads(text)["files"]["a.py"]["sha256"] == sha256_of(b"a\n")


def test_record_files_keep_a_base_copy_of_each_generated_file() -> None:
    files = record_files(_record(), {"pkg/main.py": b"print()\n"})
    assert files[".fastscaffold/base/pkg/main.py"] == b"print()\n"
    assert b'"generator"' in files[".fastscaffold/record.json"]
    assert b"commit this folder" in files[".fastscaffold/README.md"]


def test_missing_record_says_how_to_restore_it(tmp_path: Path) -> None:
    with pytest.raises(ProjectConfigError) as info:
        read_record(tmp_path)
    assert "record.json is missing" in str(info.value)
    assert info.value.hint is not None and "git checkout" in info.value.hint


@pytest.mark.parametrize("text", ["{", '{"schema": 1}', '{"schema": 99}'])
def test_corrupt_or_future_records_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / ".fastscaffold").mkdir()
    (tmp_path / ".fastscaffold" / "record.json").write_text(text)
    with pytest.raises(ProjectConfigError):
        read_record(tmp_path)
