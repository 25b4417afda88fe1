import subprocess
from pathlib import Path

from fastscaffold.merge import ConflictMode, has_conflict_markers, merge3, reject_file

BASE = "a\nb\nc\nd\ne\n"


def test_only_their_change_is_taken() -> None:
    result = merge3(BASE, BASE, "a\nB\nc\nd\ne\n")
    assert (result.text, result.conflicts) == ("a\nB\nc\nd\ne\n", ())


def test_only_our_change_is_kept() -> None:
    assert merge3(BASE, "a\nb\nc\nD\ne\n", BASE).text == "a\nb\nc\nD\ne\n"


def test_changes_in_different_places_both_land() -> None:
    result = merge3(BASE, "a\nb\nc\nD\ne\n", "A\nb\nc\nd\ne\nf\n")
    assert (result.text, result.conflicts) == ("A\nb\nc\nD\ne\nf\n", ())


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    same = "a\nb\nX\nd\ne\n"
    result = merge3(BASE, same, same)
    assert (result.text, result.conflicts) == (same, ())


def test_overlapping_changes_are_marked_with_both_sides_and_the_base() -> None:
    result = merge3(BASE, "a\nb\nOURS\nd\ne\n", "a\nb\nTHEIRS\nd\ne\n")
    assert len(result.conflicts) == 1
    assert result.text == (
        "a\nb\n<<<<<<< yours\nOURS\n||||||| base (what fastscaffold generated before)\nc\n"
        "=======\nTHEIRS\n>>>>>>> new templates\nd\ne\n"
    )
    assert has_conflict_markers(result.text)
    assert not has_conflict_markers(BASE)


def test_deletions_and_insertions_at_the_end_merge() -> None:
    result = merge3(BASE, "a\nb\nc\nd\n", "a\nb\nc\nd\ne\nf\n")
    assert len(result.conflicts) == 1  # we deleted the line they extended after
    result = merge3(BASE, "a\nb\nc\nd\ne\nmine\n", "z\na\nb\nc\nd\ne\n")
    assert (result.text, result.conflicts) == ("z\na\nb\nc\nd\ne\nmine\n", ())


def test_a_missing_final_newline_does_not_glue_to_a_marker() -> None:
    result = merge3("x\n", "mine", "theirs")
    assert "mine\n||||||| base" in result.text
    assert "theirs\n>>>>>>> new templates\n" in result.text


def test_rej_mode_applies_the_clean_hunks_and_rejects_only_the_overlap(tmp_path: Path) -> None:
    base = "".join(f"line {n}\n" for n in range(1, 21))
    ours = base.replace("line 10\n", "line 10 (ours)\n")
    theirs = base.replace("line 2\n", "line 2 (new)\n").replace("line 10\n", "line 10 (new)\n")
    result = merge3(base, ours, theirs, mode=ConflictMode.REJ)
    # The non-overlapping template change landed; the overlapping region keeps ours.
    assert "line 2 (new)\n" in result.text and "line 10 (ours)\n" in result.text
    assert not has_conflict_markers(result.text)
    rejected = reject_file("app.py", base, result.conflicts)
    assert "-line 10\n+line 10 (new)\n" in rejected and "line 2 (new)" not in rejected
    # The .rej is a real patch: it applies to the base it was computed from.
    (tmp_path / "app.py").write_text(base)
    (tmp_path / "app.py.rej").write_text(rejected)
    done = subprocess.run(
        ["patch", "--quiet", "app.py", "app.py.rej"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "line 10 (new)\n" in (tmp_path / "app.py").read_text()


def test_ours_lines_say_where_each_line_of_ours_went() -> None:
    ours = "a\nmine\nb\nc\nd\ne\n"
    result = merge3(BASE, ours, "z\na\nb\nc\nd\n")
    assert result.text == "z\na\nmine\nb\nc\nd\n"
    merged = result.text.splitlines()
    for index, line in enumerate(ours.splitlines()):
        where = result.ours_lines[index]
        if line == "e":
            assert where is None  # they deleted it
        else:
            assert where is not None and merged[where] == line


def test_a_document_keeps_a_note_added_after_a_paragraph_the_templates_rewrote() -> None:
    ours = "a\nb\nc\nd\ne\nour note\n"
    theirs = "a\nb\nc\nd\nE rewritten\nnew section\n"
    result = merge3(BASE, ours, theirs, union_insertions=True)
    assert (result.text, result.conflicts) == (
        "a\nb\nc\nd\nE rewritten\nnew section\nour note\n",
        (),
    )
    # The same shape with the sides swapped: our rewrite stays, their addition follows it.
    result = merge3(BASE, theirs, ours, union_insertions=True)
    assert (result.text, result.conflicts) == (
        "a\nb\nc\nd\nE rewritten\nnew section\nour note\n",
        (),
    )
    # Code is not a document: there the same shape stays a conflict.
    assert len(merge3(BASE, ours, theirs).conflicts) == 1
