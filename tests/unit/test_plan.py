from pathlib import Path

import pytest

from fastscaffold.errors import FileSystemError
from fastscaffold.plan import Action, StagedFile, apply_plan, make_plan


def test_plan_tells_creations_updates_and_unchanged_files(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_text("same\n")
    (tmp_path / "edited.txt").write_text("old\n")
    plan = make_plan(
        tmp_path,
        {
            "same.txt": StagedFile(b"same\n"),
            "edited.txt": StagedFile(b"new\n"),
            "pkg/new.txt": StagedFile(b"hello\n"),
        },
    )
    actions = {c.path: c.action for c in plan.changes}
    assert actions == {
        "edited.txt": Action.UPDATE,
        "pkg/new.txt": Action.CREATE,
        "same.txt": Action.UNCHANGED,
    }
    diff = plan.diff()
    assert "--- a/edited.txt\n+++ b/edited.txt\n" in diff
    assert "-old\n+new\n" in diff
    assert "--- /dev/null\n+++ b/pkg/new.txt\n" in diff
    assert "same.txt" not in diff


def test_apply_writes_every_file_with_its_mode(tmp_path: Path) -> None:
    plan = make_plan(
        tmp_path,
        {"a/b/run.sh": StagedFile(b"#!/bin/sh\n", executable=True), "x.txt": StagedFile(b"x")},
    )
    apply_plan(plan)
    assert (tmp_path / "a/b/run.sh").read_bytes() == b"#!/bin/sh\n"
    assert (tmp_path / "a/b/run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.rglob("*.tmp"))


def test_rewriting_a_file_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    target = tmp_path / "settings.toml"
    target.write_text("old\n")
    target.chmod(0o600)
    apply_plan(make_plan(tmp_path, {"settings.toml": StagedFile(b"new\n")}))
    assert target.read_text() == "new\n" and target.stat().st_mode & 0o777 == 0o600


def test_a_failed_apply_restores_everything_it_wrote(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user content\n")
    # "zz" is a folder, so writing a file there fails after the others are written.
    (tmp_path / "zz").mkdir()
    plan = make_plan(
        tmp_path,
        {
            "keep.txt": StagedFile(b"generated\n"),
            "new/deep/file.txt": StagedFile(b"new\n"),
            "zz": StagedFile(b"cannot write a file over a folder\n"),
        },
    )
    with pytest.raises(FileSystemError, match="Is a directory"):
        apply_plan(plan)
    assert (tmp_path / "keep.txt").read_text() == "user content\n"
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "zz"]


def test_binary_changes_are_named_not_dumped(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, {"logo.png": StagedFile(b"\x89PNG\xff\x00")})
    assert plan.diff() == "Binary file logo.png differs\n"
