from pathlib import Path

import pytest

from fastscaffold.catalog import get_pattern, load_catalog, resolve_additions
from fastscaffold.errors import PatternError


def test_requirements_come_first_and_applied_ones_are_skipped(fixture_patterns: Path) -> None:
    catalog = load_catalog()
    assert [p.name for p in resolve_additions(catalog, ["greeting"], [])] == ["counter", "greeting"]
    assert [p.name for p in resolve_additions(catalog, ["greeting"], ["counter"])] == ["greeting"]
    assert resolve_additions(catalog, ["greeting"], ["counter", "greeting"]) == []


def test_conflicts_are_refused_both_ways(fixture_patterns: Path) -> None:
    catalog = load_catalog()
    with pytest.raises(PatternError, match="'rival' conflicts with 'greeting', which is applied"):
        resolve_additions(catalog, ["rival"], ["counter", "greeting"])
    with pytest.raises(PatternError, match="conflicts with 'rival', which is requested too"):
        resolve_additions(catalog, ["greeting", "rival"], [])


def test_unknown_pattern_suggests_the_closest_name(fixture_patterns: Path) -> None:
    with pytest.raises(PatternError) as info:
        get_pattern(load_catalog(), "greting")
    assert "Unknown pattern 'greting'. Did you mean 'greeting'?" in str(info.value)
    assert info.value.hint is not None and "greeting" in info.value.hint
    assert "counter" not in info.value.hint  # building blocks are not offered


def test_user_pattern_folders_override_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture_patterns: Path
) -> None:
    monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", f"{tmp_path}:{fixture_patterns}")
    folder = tmp_path / "greeting"
    (folder / "files").mkdir(parents=True)
    (folder / "USAGE.md").write_text("# mine\n")
    (folder / "pattern.toml").write_text('name = "greeting"\nsummary = "My own greeting"\n')
    assert load_catalog()["greeting"].manifest.summary == "My own greeting"
