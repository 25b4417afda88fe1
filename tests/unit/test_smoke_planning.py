"""Planning a smoke run: combinations, pattern selection and the projects of the matrix."""

from pathlib import Path

import pytest

from fastscaffold.catalog import load_catalog
from fastscaffold.errors import PatternError, SmokeUsageError
from fastscaffold.smoke.planning import parse_combinations, plan_projects, select_patterns
from fastscaffold.smoke.validation import patterns_path
from tests.helpers import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"


def test_combinations_are_parsed_in_canonical_order() -> None:
    assert parse_combinations(" add,alone ") == ("alone", "add")
    assert parse_combinations("update,base") == ("base", "update")


@pytest.mark.parametrize("text", ["alone,bogus", "", " , "])
def test_unknown_or_no_combination_is_a_usage_error(text: str) -> None:
    with pytest.raises(SmokeUsageError) as raised:
        parse_combinations(text)
    assert raised.value.exit_code == 2
    assert "base,alone,all,add,update" in (raised.value.hint or "")


def test_the_default_plan_has_base_each_alone_all_and_add() -> None:
    plan = plan_projects(["a", "b"])
    assert [p.id for p in plan] == ["base", "with-a", "with-b", "with-all", "new-then-add-each"]
    assert plan[3].with_patterns == ("a", "b")
    assert plan[4].added_later == ("a", "b") and plan[4].edited
    assert plan[4].with_patterns == ()


def test_all_is_left_out_for_one_pattern_and_base_can_be() -> None:
    assert [p.id for p in plan_projects(["a"], ("alone", "all"))] == ["with-a"]


def test_update_needs_a_folder_to_update_from(tmp_path: Path) -> None:
    with pytest.raises(SmokeUsageError, match="update combination needs a project"):
        plan_projects(["a"], ("alone", "update"))
    with pytest.raises(SmokeUsageError, match="no such folder"):
        plan_projects(["a"], ("update",), update_from=tmp_path / "missing")
    (tmp_path / "old-api").mkdir()
    plan = plan_projects([], ("update",), update_from=tmp_path / "old-api")
    assert [(p.id, p.update_from) for p in plan] == [("update-from-old-api", tmp_path / "old-api")]


def test_selection_defaults_to_the_teams_patterns_and_leaves_blocks_out() -> None:
    root = FIXTURES / "patterns"
    with patterns_path([root]):
        catalog = load_catalog()
        assert select_patterns(catalog, [], every=False, team_roots=[root]) == (
            "greeting",
            "rival",
        )
        everything = select_patterns(catalog, [], every=True, team_roots=[root])
        assert {"greeting", "rival", "tasks"} <= set(everything)
        assert "counter" not in everything  # a block
        assert select_patterns(catalog, ["counter"], every=False) == ("counter",)


def test_selection_refuses_nothing_and_unknown_names() -> None:
    catalog = load_catalog()
    with pytest.raises(SmokeUsageError, match="No pattern selected"):
        select_patterns(catalog, [], every=False)
    assert select_patterns(catalog, [], every=False, allow_none=True) == ()
    with pytest.raises(PatternError, match="Unknown pattern 'nope'"):
        select_patterns(catalog, ["nope"], every=False)
