"""Model-based test of the lifecycle: random sequences of commands and user edits.

A hypothesis state machine drives one project through `add`, `remove`,
`api-version new | deprecate | retire`, user edits (inside and outside
managed regions, hand-added requirements, deleted files, edited pattern
modules, a released API version), a template upgrade (the greeting fixture's
version 1 to version 2) and `update`, and checks after every step what a
user relies on:

* `check` passes whenever no template changed since the last update;
* no edit of the user's is lost (every marker is still where it was put,
  following the files a migration renamed);
* pyproject.toml is valid TOML and lists no distribution twice;
* a second `update` changes nothing;
* `add` then `remove` of a pattern gives back the project byte for byte;
* the versioned API's lifecycle is what the commands made it.

The walks are bounded for CI (derandomized, a fixed number of examples);
two more walks end by linting, type-checking and testing the project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fastscaffold.api_versions import cut_version, deprecate_version, retire_version
from fastscaffold.creation import NewOptions, new_project
from fastscaffold.dependencies import requirement_name
from fastscaffold.errors import EditedFilesError
from fastscaffold.patterns import add_patterns, remove_patterns
from fastscaffold.record import read_record
from fastscaffold.update import check_project, update_project
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "patterns"
V1 = REPO_ROOT / "tests" / "fixtures" / "update" / "v1"
PACKAGE = "model_api"
PATTERNS = ["greeting", "upload", "versioning", "websockets"]
USER_REQUIREMENTS = ["orjson>=3.10", "anyio>=4", "python-multipart>=0.0.32"]
# What version 2 of the greeting fixture renamed, as its migration says.
RENAMED = {f"{PACKAGE}/greeting/cli.py": f"{PACKAGE}/greeting/commands.py"}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class Lifecycle(RuleBasedStateMachine):
    """One project, and what its user expects of it."""

    base: Path  # set by the test: a generated project to copy
    final_checks = False

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="fastscaffold-model-"))
        self.root = self.tmp / "model-api"
        shutil.copytree(self.base, self.root)
        self.saved_env = os.environ.get("FASTSCAFFOLD_PATTERNS_PATH")
        os.environ["FASTSCAFFOLD_PATTERNS_PATH"] = f"{V1}{os.pathsep}{FIXTURES}"
        self.upgraded = False
        self.markers: dict[str, tuple[str, str]] = {}  # marker -> (path, owning unit or "")
        self.deleted: dict[str, str] = {}  # path -> unit
        self.user_requirements: set[str] = set()
        self.versions: dict[str, str] = {}  # version -> status, while versioning is applied
        self.latest_released = True
        self.count = 0
        self.patterns: set[str] = set()
        (self.tmp / "new").mkdir()

    def teardown(self) -> None:
        try:
            if self.final_checks:
                self._lint_type_check_and_test()
        finally:
            if self.saved_env is None:
                os.environ.pop("FASTSCAFFOLD_PATTERNS_PATH", None)
            else:
                os.environ["FASTSCAFFOLD_PATTERNS_PATH"] = self.saved_env
            shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize(patterns=st.lists(st.sampled_from(PATTERNS), max_size=3, unique=True))
    def start(self, patterns: list[str]) -> None:
        """Start from `new`, or `new` + `add` of some patterns: the files of `new --with`."""
        if not patterns:
            return
        add_patterns(self.root, patterns)
        made = new_project(
            NewOptions(name="model-api", parent=self.tmp / "new", patterns=tuple(patterns))
        )
        assert _tree(self.root) == _tree(made.destination)
        shutil.rmtree(self.tmp / "new")
        if "versioning" in patterns:
            self.versions = {"v1": "active", "v2": "active"}
        self.refresh()

    # --- what the model knows ---------------------------------------------------------

    def refresh(self) -> None:
        """Note which patterns are applied (the preconditions read it)."""
        self.patterns = {n for n, u in read_record(self.root).units.items() if u.kind == "pattern"}

    def missing(self) -> list[str]:
        return [name for name in PATTERNS if name not in self.patterns]

    def _marker(self) -> str:
        self.count += 1
        return f"model-edit-{self.count}"

    def _unit_files(self, unit: str, suffix: str = "") -> list[str]:
        record = read_record(self.root)
        return [
            p for p in record.files_of([unit])
            if p.endswith(suffix) and (self.root / p).is_file() and p not in self.deleted
        ]  # fmt: skip

    def _behind(self) -> bool:
        greeting = read_record(self.root).units.get("greeting")
        return self.upgraded and greeting is not None and greeting.version == "1"

    def _kept(self, unit: str) -> bool:
        """Whether files of ``unit`` the user edited were kept when it was removed."""
        return any(
            owner == unit and (self.root / path).exists() for path, owner in self.markers.values()
        )

    # --- commands ---------------------------------------------------------------------

    @precondition(lambda self: bool(self.missing()))
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.missing()))
        before = _tree(self.root)
        try:
            add_patterns(self.root, [name])
        except EditedFilesError as refused:
            # Only files of the user's can be in the way: edited ones a remove kept.
            kept = {path for path, owner in self.markers.values() if owner == name}
            assert set(refused.paths) <= kept, refused.paths
            assert _tree(self.root) == before
            return
        assert add_patterns(self.root, [name]).added == ()  # again: nothing to do
        self.refresh()
        if name == "versioning":
            self.versions, self.latest_released = {"v1": "active", "v2": "active"}, True

    @precondition(lambda self: bool(self.missing()))
    @rule(data=st.data())
    def add_then_remove(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.missing()))
        if self._kept(name):
            return
        before = _tree(self.root)
        add_patterns(self.root, [name])
        remove_patterns(self.root, [name])
        assert _tree(self.root) == before

    @precondition(lambda self: bool(self.patterns))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.patterns)))
        change = remove_patterns(self.root, [name])
        self.refresh()
        gone = set(change.removed)
        for marker, (_, unit) in list(self.markers.items()):
            if unit in gone and "block" in marker:
                del self.markers[marker]  # a removed pattern's managed block goes with it
        self.deleted = {p: u for p, u in self.deleted.items() if u not in gone}
        if name == "versioning":
            self.versions = {}

    @precondition(lambda self: not self.upgraded)
    @rule()
    def upgrade_templates(self) -> None:
        os.environ["FASTSCAFFOLD_PATTERNS_PATH"] = str(FIXTURES)
        self.upgraded = True

    @rule()
    def update(self) -> None:
        was_behind = self._behind()
        result = update_project(self.root)
        assert result.conflicts == [], result.outcomes
        assert update_project(self.root).project_changes == []  # a second update: nothing
        if was_behind:
            for marker, (path, unit) in list(self.markers.items()):
                self.markers[marker] = (RENAMED.get(path, path), unit)

    @precondition(lambda self: bool(self.versions))
    @rule()
    def cut_a_version(self) -> None:
        change = cut_version(self.root)
        if self.latest_released:
            assert change.changed
            new = f"v{len(self.versions) + 1}"
            self.versions[new] = "active"
            self.latest_released = False
        else:
            assert not change.changed

    @precondition(lambda self: self.versions.get("v1") == "active")
    @rule()
    def deprecate_v1(self) -> None:
        from datetime import date

        deprecate_version(self.root, "v1", sunset=date(2099, 6, 30), since=date(2026, 12, 1))
        self.versions["v1"] = "deprecated"

    @precondition(lambda self: self.versions.get("v1") in {"active", "deprecated"})
    @rule()
    def retire_v1(self) -> None:
        retire_version(self.root, "v1")
        self.versions["v1"] = "retired"

    # --- the user's edits -----------------------------------------------------------

    @rule(path=st.sampled_from(["README.md", ".env.example"]))
    def append_a_line(self, path: str) -> None:
        marker = self._marker()
        with (self.root / path).open("a", encoding="utf-8") as handle:
            handle.write(f"# {marker}\n" if path == ".env.example" else f"\nNote: {marker}.\n")
        self.markers[marker] = (path, "")

    @precondition(lambda self: bool(self.patterns))
    @rule()
    def set_a_setting(self) -> None:
        """Uncomment a pattern's setting in its managed block of .env.example."""
        env = self.root / ".env.example"
        lines = env.read_text(encoding="utf-8").splitlines(keepends=True)
        owner = None
        for index, line in enumerate(lines):
            if line.startswith("# >>> fastscaffold: "):
                owner = line.split()[3]
            elif owner and line.startswith("# <<< "):
                owner = None
            elif owner and line.startswith("# ") and "=" in line:
                setting = line[2:].split("=", 1)[0]
                if not (setting.isidentifier() and setting.isupper()):
                    continue  # a help line
                marker = f"block{self._marker().replace('-', '')}"
                lines[index] = f"{setting}={marker}\n"
                env.write_text("".join(lines), encoding="utf-8")
                self.markers[marker] = (".env.example", owner)
                return

    @rule(requirement=st.sampled_from(USER_REQUIREMENTS))
    def list_a_requirement(self, requirement: str) -> None:
        pyproject = self.root / "pyproject.toml"
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        listed = {requirement_name(r) for r in data["project"]["dependencies"]}
        if requirement_name(requirement) in listed:
            return
        text = pyproject.read_text(encoding="utf-8")
        anchor = '    "typer>=0.16",\n'
        pyproject.write_text(text.replace(anchor, f'{anchor}    "{requirement}",\n', 1))
        self.user_requirements.add(requirement)

    @precondition(lambda self: bool(self.patterns))
    @rule(data=st.data())
    def edit_a_module(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.patterns)))
        modules = self._unit_files(name, ".py")
        if modules:
            marker = self._marker()
            with (self.root / modules[0]).open("a", encoding="utf-8") as handle:
                handle.write(f"# {marker}\n")
            self.markers[marker] = (modules[0], name)

    @precondition(lambda self: bool(self.patterns))
    @rule(data=st.data())
    def delete_a_test(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.patterns)))
        owned = [p for p in self.markers.values() if p[1] == name]
        tests = [p for p in self._unit_files(name, ".py") if p.startswith("tests/test_")]
        tests = [p for p in tests if p not in {path for path, _ in owned}]
        if tests:
            (self.root / tests[0]).unlink()
            self.deleted[tests[0]] = name

    @precondition(lambda self: bool(self.versions) and not self.latest_released)
    @rule()
    def release_the_latest(self) -> None:
        path = self.root / PACKAGE / "api" / "versions.toml"
        text = path.read_text(encoding="utf-8")
        assert text.count("released = false") == 1
        path.write_text(text.replace("released = false", "released = true"), encoding="utf-8")
        self.markers[f"released-{self.count}"] = (str(path.relative_to(self.root)), "versioning")
        self.latest_released = True

    # --- what must always hold ------------------------------------------------------

    @invariant()
    def check_passes_unless_templates_changed(self) -> None:
        report = check_project(self.root)
        assert report.ok != self._behind(), report

    @invariant()
    def no_edit_is_lost(self) -> None:
        for marker, (path, _) in self.markers.items():
            if marker.startswith("released-"):
                continue
            target = self.root / path
            assert target.is_file() and marker in target.read_text(encoding="utf-8"), (
                marker,
                path,
            )
        for path in self.deleted:
            assert not (self.root / path).exists(), f"{path} came back"

    @invariant()
    def pyproject_is_valid_and_lists_each_distribution_once(self) -> None:
        data = tomllib.loads((self.root / "pyproject.toml").read_text(encoding="utf-8"))
        arrays = [
            data["project"]["dependencies"],
            *data["project"]["optional-dependencies"].values(),
        ]
        for array in arrays:
            names = [requirement_name(r) for r in array]
            assert len(names) == len(set(names)), array
        listed = set(data["project"]["dependencies"])
        assert self.user_requirements <= listed

    @invariant()
    def the_api_lifecycle_is_what_the_commands_made_it(self) -> None:
        path = self.root / PACKAGE / "api" / "versions.toml"
        if not self.versions:
            return
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        statuses = {name: table["status"] for name, table in data["versions"].items()}
        assert statuses == self.versions
        assert data["latest"] == max(self.versions, key=lambda v: int(v[1:]))
        for version in self.versions:
            assert (self.root / PACKAGE / "api" / version / "routes.py").is_file()

    def _lint_type_check_and_test(self) -> None:
        if self._behind():
            update_project(self.root)
        for argv in (
            ["ruff", "check", "--no-cache", "."],
            ["ruff", "format", "--check", "--no-cache", "."],
            ["mypy", "--strict", "--cache-dir", str(self.tmp / "mypy")],
            ["pytest", "-q", "-p", "no:cacheprovider", "-x"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", *argv], cwd=self.root, capture_output=True, text=True,
                timeout=900,
            )  # fmt: skip
            assert done.returncode == 0, (argv, done.stdout[-4000:], done.stderr[-2000:])


@pytest.fixture(scope="module")
def model_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("model")
    return new_project(NewOptions(name="model-api", parent=parent)).destination


_WALKS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_random_lifecycles_keep_every_promise(model_base: Path) -> None:
    Lifecycle.base = model_base
    Lifecycle.final_checks = False
    run_state_machine_as_test(
        Lifecycle, settings=settings(_WALKS, max_examples=14, stateful_step_count=14)
    )


def test_a_project_after_a_long_random_lifecycle_lints_type_checks_and_passes_its_tests(
    model_base: Path,
) -> None:
    Lifecycle.base = model_base
    Lifecycle.final_checks = True
    try:
        run_state_machine_as_test(
            Lifecycle, settings=settings(_WALKS, max_examples=2, stateful_step_count=25)
        )
    finally:
        Lifecycle.final_checks = False
