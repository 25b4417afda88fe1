"""Every `fastscaffold` example in the docs and the `--help` texts runs as written.

Examples are collected from README.md, docs/*.md, each shipped pattern's
USAGE.md (code blocks and indented command lines) and the epilog of every
command's `--help`. Each one runs in a scratch project that has what it
needs (a project without the pattern it adds, with every pattern for the
rest), through the real CLI, and must exit 0. Two long steps are stood in for, and only
those: the server `run` starts (its options are parsed, the project found,
its dependencies and port checked, as for real), and the virtualenv `--venv`
installs from the network (the README test installs one for real).
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fastscaffold import creation
from fastscaffold import runner as runner_module
from fastscaffold.cli import app
from fastscaffold.creation import NewOptions, new_project
from fastscaffold.venv import VenvResult
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

PATTERNS = sorted(
    p.parent.name
    for p in (REPO_ROOT / "templates" / "patterns").glob("*/pattern.toml")
    if 'kind = "block"' not in p.read_text()
)


@dataclass(frozen=True)
class Example:
    """One documented command line, and where it is documented."""

    source: str
    argv: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.source}: {' '.join(self.argv)}"


def _commands(line: str) -> Iterator[tuple[str, ...]]:
    """Yield the fastscaffold commands of a shell line (comments and `cd` parts left out)."""
    line = re.sub(r"\s+#\s.*$", "", line.strip())
    for part in re.split(r"\s*(?:&&|\|\|?|;)\s*", line):
        words = shlex.split(part)
        if words[:1] == ["fastscaffold"]:
            yield tuple(words[1:])


def _from_markdown(path: Path) -> Iterator[Example]:
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        indented = line.startswith("    ") and line.strip().startswith("fastscaffold ")
        if (inside or indented) and line.strip().startswith("fastscaffold "):
            for argv in _commands(line):
                yield Example(path.relative_to(REPO_ROOT).as_posix(), argv)


def _from_help(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[Example]:
    for name, command in sorted(group.commands.items()):
        epilog = command.epilog or ""
        for text in re.split(r"\s+\|\s+", re.sub(r"^Examples?(?: \([^)]*\))?: ", "", epilog)):
            for argv in _commands(text):
                yield Example(f"fastscaffold {' '.join((*prefix, name))} --help", argv)
        if hasattr(command, "commands"):  # a group (Typer's click, maybe vendored)
            yield from _from_help(command, (*prefix, name))


def collect() -> list[Example]:
    examples: list[Example] = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        examples += _from_markdown(path)
    for usage in sorted((REPO_ROOT / "templates" / "patterns").glob("*/USAGE.md")):
        examples += _from_markdown(usage)
    root = typer.main.get_command(app)
    if root.epilog:
        examples += [
            Example("fastscaffold --help", a) for a in _commands(root.epilog.split(": ", 1)[1])
        ]
    examples += _from_help(root)
    unique = {example.id: example for example in examples}
    return list(unique.values())


EXAMPLES = collect()


def test_the_docs_have_examples_of_every_command() -> None:
    commands = {example.argv[0] for example in EXAMPLES}
    assert {"new", "add", "remove", "list", "show", "update", "check", "run", "api-version"} <= (
        commands
    )


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    parent = tmp_path_factory.mktemp("examples")
    (parent / "base").mkdir()
    (parent / "full").mkdir()
    base = new_project(NewOptions(name="orders-api", parent=parent / "base")).destination
    full = new_project(
        NewOptions(name="orders-api", parent=parent / "full", patterns=tuple(PATTERNS))
    ).destination
    return {"base": base, "full": full}


def _scratch(example: Example, projects: dict[str, Path], tmp_path: Path) -> Path:
    """Return a fresh copy of the project ``example`` needs (an empty folder for `new`)."""
    if example.argv[0] == "new":
        (tmp_path / "scratch").mkdir()
        return tmp_path / "scratch"
    kind = "base" if example.argv[0] == "add" else "full"
    copy = tmp_path / "scratch" / "orders-api"
    shutil.copytree(projects[kind], copy)
    return copy


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_runs_as_written(
    example: Example,
    projects: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = example.argv
    served: list[object] = []
    monkeypatch.setattr(runner_module, "start_server", lambda argv, cwd: served.append(argv))
    monkeypatch.setattr(runner_module, "supervise", lambda process: 0)
    monkeypatch.setattr(creation, "create_venv", _no_venv)
    (Path.home() / "code").mkdir(exist_ok=True)  # HOME is a temporary folder in the tests
    where = _scratch(example, projects, tmp_path)
    monkeypatch.chdir(where)
    if "./orders-api" in argv:
        monkeypatch.chdir(where.parent)
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 0, f"{example.id} exited {result.exit_code}:\n{result.output}"
    assert bool(served) == (argv[0] == "run")


def _no_venv(destination: Path, *, progress: object = None) -> VenvResult:
    """Stand in for creating .venv (pip would download every dependency)."""
    return VenvResult(path=destination / ".venv", python=Path(sys.executable), installer="pip")
