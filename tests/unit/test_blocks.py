"""Managed blocks: a canonical layout, a merge that keeps the user's text, and exact round trips."""

import pytest

from fastscaffold.blocks import (
    ENV_STYLE,
    DamagedBlockError,
    merge_blocks,
    parse,
    render_with_blocks,
)
from fastscaffold.merge import ConflictMode

TEMPLATE = "# Settings\n# LOG_LEVEL=INFO\n"
A = ("alpha", ["# A_SETTING=1"])
B = ("beta", ["# B_SETTING=2"])
C = ("gamma", ["# C_SETTING=3"])


def _render(*blocks: tuple[str, list[str]], text: str = TEMPLATE) -> str:
    return render_with_blocks(text, list(blocks), ENV_STYLE)


def _merge(base: str, ours: str, theirs: str) -> str:
    text, rejected = merge_blocks(base, ours, theirs, ENV_STYLE, mode=ConflictMode.INLINE)
    assert not rejected
    return text


def test_the_canonical_layout_is_the_template_then_each_block_after_a_blank_line() -> None:
    assert _render() == TEMPLATE
    assert _render(A, B) == (
        TEMPLATE
        + "\n# >>> fastscaffold: alpha (managed block: fastscaffold add/remove rewrite it)\n"
        "# A_SETTING=1\n# <<< fastscaffold: alpha\n"
        "\n# >>> fastscaffold: beta (managed block: fastscaffold add/remove rewrite it)\n"
        "# B_SETTING=2\n# <<< fastscaffold: beta\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        TEMPLATE,
        _render(A, B),
        "",
        _render(A, text=""),
        _render(A, text="x\n\n\n"),
        _render(A).replace("\n\n#", "\n#"),  # the user removed the blank line before a block
        _render(A) + "AFTER=1\n",
        _render(A, B).replace("# <<< fastscaffold: alpha\n\n", "# <<< fastscaffold: alpha\n"),
        "no final newline",
    ],
)
def test_parsing_and_rendering_round_trip_byte_for_byte(text: str) -> None:
    assert parse(text, ENV_STYLE).render(ENV_STYLE) == text


def test_adding_blocks_in_any_order_gives_the_canonical_file() -> None:
    one_by_one = _merge(_render(B), _render(B), _render(A, B))
    assert one_by_one == _render(A, B)
    assert _merge(_render(A), _render(A), _render(A, B, C)) == _render(A, B, C)
    assert _merge(_render(A, C), _render(A, C), _render(A, B, C)) == _render(A, B, C)


def test_user_lines_outside_blocks_stay_where_they_are_through_add_and_remove() -> None:
    ours = _render(A).replace("# LOG_LEVEL=INFO\n", "# LOG_LEVEL=INFO\nMINE=1\n") + "TAIL=1\n"
    added = _merge(_render(A), ours, _render(A, B))
    # The new block goes next to the one before it in the canonical order.
    assert added == ours.replace("TAIL=1\n", _render(B, text="").lstrip("\n") + "TAIL=1\n").replace(
        "# <<< fastscaffold: alpha\n#", "# <<< fastscaffold: alpha\n\n#"
    )
    # Taking B out again gives back exactly what the user had.
    assert _merge(_render(A, B), added, _render(A)) == ours


def test_a_users_edit_inside_a_block_survives_a_change_of_that_block() -> None:
    base = _render(("alpha", ["# A_SETTING=1", "# Other", "# A_OTHER=x"]))
    ours = base.replace("# A_SETTING=1", "A_SETTING=5")
    theirs = _render(("alpha", ["# A_SETTING=1", "# Other", "# A_OTHER=y"]))
    merged = _merge(base, ours, theirs)
    assert "A_SETTING=5\n" in merged and "# A_OTHER=y\n" in merged


def test_template_text_changes_merge_around_the_blocks() -> None:
    # Both sides appended at the end of the text: kept, the templates' line first.
    ours = _render(A) + "MINE=1\n"
    theirs = render_with_blocks(TEMPLATE + "# NEW=1\n", [A], ENV_STYLE)
    merged = _merge(_render(A), ours, theirs)
    assert merged.count("# NEW=1\n") == 1 and merged.endswith("MINE=1\n")
    assert merged.index("# NEW=1") < merged.index("MINE=1")
    # A change in the middle of the template's text lands without touching the blocks.
    theirs = _render(A, text=TEMPLATE.replace("# Settings", "# The settings"))
    assert _merge(_render(A), ours, theirs) == ours.replace("# Settings", "# The settings")


def test_overlapping_text_edits_conflict_outside_the_blocks() -> None:
    ours = _render(A).replace("LOG_LEVEL=INFO", "LOG_LEVEL=DEBUG")
    theirs = _render(A, text=TEMPLATE.replace("LOG_LEVEL=INFO", "LOG_LEVEL=WARNING"))
    text, rejected = merge_blocks(_render(A), ours, theirs, ENV_STYLE, mode=ConflictMode.INLINE)
    assert len(rejected) == 1 and rejected[0].where == ""
    assert "<<<<<<< yours\n# LOG_LEVEL=DEBUG\n" in text and "# A_SETTING=1" in text


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t.replace("# <<< fastscaffold: alpha\n", ""),
        lambda t: t.replace(
            "# >>> fastscaffold: alpha (managed block: fastscaffold add/remove rewrite it)\n", ""
        ),
        lambda t: t + t,
    ],
)
def test_damaged_markers_are_refused_not_guessed(damage: object) -> None:
    damaged = damage(_render(A))  # type: ignore[operator]
    with pytest.raises(DamagedBlockError):
        merge_blocks(_render(A), damaged, _render(A, B), ENV_STYLE, mode=ConflictMode.INLINE)
