from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from fastscaffold.catalog import Pattern, load_catalog
from fastscaffold.errors import InvalidAnswerError, PatternDefinitionError, TemplateError
from fastscaffold.manifest import load_manifest
from tests.helpers import REPO_ROOT, project_answer_names

SHIPPED = REPO_ROOT / "templates" / "patterns"


def _write_pattern(root: Path, name: str, manifest: str) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "USAGE.md").write_text(f"# {name}\n")
    (folder / "pattern.toml").write_text(manifest)
    return folder


def _all_patterns(monkeypatch: pytest.MonkeyPatch, fixtures: Path) -> list[Pattern]:
    monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(fixtures))
    return list(load_catalog().values())


def test_every_shipped_and_fixture_manifest_loads(
    monkeypatch: pytest.MonkeyPatch, fixture_patterns: Path
) -> None:
    patterns = _all_patterns(monkeypatch, fixture_patterns)
    shipped = sorted(p.name for p in SHIPPED.iterdir() if (p / "pattern.toml").is_file())
    names = {p.name for p in patterns}
    assert set(shipped) <= names
    assert {"greeting", "counter", "rival"} <= names
    for pattern in patterns:
        assert pattern.usage().strip(), f"{pattern.name} has an empty USAGE.md"


def test_templates_use_only_options_and_project_answers(
    monkeypatch: pytest.MonkeyPatch, fixture_patterns: Path
) -> None:
    env = jinja2.Environment()
    for pattern in _all_patterns(monkeypatch, fixture_patterns):
        for path in (pattern.folder / "files").rglob("*"):
            rel = path.relative_to(pattern.folder / "files").as_posix()
            sources = [rel]
            if path.is_file() and path.suffix == ".jinja":
                sources.append(path.read_text(encoding="utf-8"))
            for source in sources:
                names = jinja2.meta.find_undeclared_variables(env.parse(source))
                options = pattern.manifest.options
                unknown = {n for n in names if n not in options and n not in project_answer_names()}
                assert not unknown, f"{pattern.name}/{rel} uses undefined {sorted(unknown)}"


HEAD = 'name = "demo"\nsummary = "x"\n'


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ('name = "demo"\nsummary = "x"\ntypo = 1\n', "typo: Extra inputs are not permitted"),
        ('name = "demo"\n', "summary: Field required"),
        ('name = "Demo"\nsummary = "x"\n', "name: String should match pattern"),
        ('name = "demo"\nsummary = "x"\nkind = "plugin"\n', "kind: Input should be"),
        (
            HEAD + '[options.size]\ntype = "int"\ndefault = "big"\nhelp = "h"\n',
            "default must be a whole number",
        ),
        (
            HEAD + '[options.mode]\ntype = "choice"\ndefault = "a"\nhelp = "h"\n',
            "'choices' is required",
        ),
        (
            'name = "demo"\nsummary = "x"\n[wiring]\ndependencies = ["not a requirement!"]\n',
            "is not a valid requirement",
        ),
        (
            HEAD + '[wiring]\nrouters = [{ module = "a.b", attr = "r", x = 1 }]\n',
            "Extra inputs are not permitted",
        ),
        ('name = "other"\nsummary = "x"\n', "names 'other', but its folder is 'demo'"),
        ('name = "demo"\nsummary = "x"\n[[broken\n', "is not valid TOML"),
    ],
)
def test_invalid_manifests_are_rejected_with_the_problem(
    tmp_path: Path, manifest: str, problem: str
) -> None:
    folder = _write_pattern(tmp_path, "demo", manifest)
    with pytest.raises(TemplateError) as info:
        load_manifest(folder)
    assert problem in str(info.value)


def test_a_pattern_without_usage_is_rejected(tmp_path: Path) -> None:
    folder = _write_pattern(tmp_path, "demo", 'name = "demo"\nsummary = "x"\n')
    (folder / "USAGE.md").unlink()
    with pytest.raises(TemplateError, match=r"has no USAGE\.md"):
        load_manifest(folder)


def test_requiring_an_unknown_pattern_fails_when_the_catalog_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_pattern(tmp_path, "demo", 'name = "demo"\nsummary = "x"\nrequires = ["ghost"]\n')
    monkeypatch.setenv("FASTSCAFFOLD_PATTERNS_PATH", str(tmp_path))
    # A team's pattern (FASTSCAFFOLD_PATTERNS_PATH) is reported as theirs to fix, not as a bug.
    with pytest.raises(
        PatternDefinitionError, match="refers to 'ghost', which does not exist"
    ) as info:
        load_catalog()
    assert str(info.value).startswith(f"Your pattern at {tmp_path / 'demo'} is broken")
    assert info.value.hint is not None and "FASTSCAFFOLD_PATTERNS_PATH" in info.value.hint


OPTIONS = """\
name = "demo"
summary = "x"
[options.size]
type = "int"
default = 10
min = 1
max = 100
help = "How many"
[options.debug]
type = "bool"
default = false
help = "Verbose"
[options.label]
type = "str"
default = "abc"
regex = "[a-z]+"
help = "A label"
"""


def test_options_are_converted_and_defaulted(tmp_path: Path) -> None:
    manifest = load_manifest(_write_pattern(tmp_path, "demo", OPTIONS))
    assert manifest.resolve_options({}) == {"size": 10, "debug": False, "label": "abc"}
    given = {"size": "42", "debug": "yes", "label": "xyz"}
    assert manifest.resolve_options(given) == {"size": 42, "debug": True, "label": "xyz"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"size": "0"}, "size must be at least 1"),
        ({"size": "many"}, "size must be a whole number"),
        ({"debug": "maybe"}, "debug must be true or false"),
        ({"label": "ABC"}, "label must match [a-z]+"),
        ({"colour": "red"}, "has no option 'colour'"),
    ],
)
def test_invalid_option_values_are_refused(
    tmp_path: Path, given: dict[str, str], message: str
) -> None:
    manifest = load_manifest(_write_pattern(tmp_path, "demo", OPTIONS))
    with pytest.raises(InvalidAnswerError) as info:
        manifest.resolve_options(given)
    assert message in str(info.value)


MIGRATIONS = """\
name = "demo"
summary = "x"
version = "3"
[[migrations]]
version = "3"
rename_setting = { from = "B", to = "C" }
[[migrations]]
version = "2"
rename_file = { from = "a.py", to = "b.py" }
"""


def test_migrations_newer_than_a_version_come_in_order(tmp_path: Path) -> None:
    manifest = load_manifest(_write_pattern(tmp_path, "demo", MIGRATIONS))
    assert [m.version for m in manifest.migrations_since("1")] == ["2", "3"]
    assert [m.version for m in manifest.migrations_since("2")] == ["3"]
    assert manifest.migrations_since("3") == []


def test_a_migration_does_exactly_one_thing(tmp_path: Path) -> None:
    setting = 'rename_setting = { from = "B", to = "C" }'
    both = MIGRATIONS.replace(setting, setting + '\nrename_file = { from = "x", to = "y" }')
    with pytest.raises(TemplateError, match="exactly one of rename_file and rename_setting"):
        load_manifest(_write_pattern(tmp_path, "demo", both))
