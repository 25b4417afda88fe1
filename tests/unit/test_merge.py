from fastscaffold.merge import has_conflict_markers, merge3

BASE = "a\nb\nc\nd\ne\n"


def test_only_their_change_is_taken() -> None:
    result = merge3(BASE, BASE, "a\nB\nc\nd\ne\n")
    assert (result.text, result.conflicts) == ("a\nB\nc\nd\ne\n", 0)


def test_only_our_change_is_kept() -> None:
    assert merge3(BASE, "a\nb\nc\nD\ne\n", BASE).text == "a\nb\nc\nD\ne\n"


def test_changes_in_different_places_both_land() -> None:
    result = merge3(BASE, "a\nb\nc\nD\ne\n", "A\nb\nc\nd\ne\nf\n")
    assert (result.text, result.conflicts) == ("A\nb\nc\nD\ne\nf\n", 0)


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    same = "a\nb\nX\nd\ne\n"
    result = merge3(BASE, same, same)
    assert (result.text, result.conflicts) == (same, 0)


def test_overlapping_changes_are_marked_with_both_sides_and_the_base() -> None:
    result = merge3(BASE, "a\nb\nOURS\nd\ne\n", "a\nb\nTHEIRS\nd\ne\n")
    assert result.conflicts == 1
    assert result.text == (
        "a\nb\n<<<<<<< yours\nOURS\n||||||| base (what fastscaffold generated before)\nc\n"
        "=======\nTHEIRS\n>>>>>>> new templates\nd\ne\n"
    )
    assert has_conflict_markers(result.text)
    assert not has_conflict_markers(BASE)


def test_deletions_and_insertions_at_the_end_merge() -> None:
    result = merge3(BASE, "a\nb\nc\nd\n", "a\nb\nc\nd\ne\nf\n")
    assert result.conflicts == 1  # we deleted the line they extended after
    result = merge3(BASE, "a\nb\nc\nd\ne\nmine\n", "z\na\nb\nc\nd\ne\n")
    assert (result.text, result.conflicts) == ("z\na\nb\nc\nd\ne\nmine\n", 0)


def test_a_missing_final_newline_does_not_glue_to_a_marker() -> None:
    result = merge3("x\n", "mine", "theirs")
    assert "mine\n||||||| base" in result.text
    assert "theirs\n>>>>>>> new templates\n" in result.text
