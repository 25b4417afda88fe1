"""`fastscaffold new` on a real terminal asks its questions; elsewhere it never does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import FIXTURE_PATTERNS
from tests.helpers import wait_for_exit

CTRL_C = "\x03"


def test_new_asks_its_questions_on_a_terminal(tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path)],
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    try:
        child.expect("Patterns to add")
        child.send("\r")  # none
        # The default is shown as a default: typing replaces it (nothing to clear first).
        child.expect(r"description of the service \S*\(A FastAPI service\)")
        child.sendline("Sells things")
        child.expect("Author")
        child.sendline("Jane Doe")
        child.expect(r"Lowest Python version the project supports \S*\[3\.11/3\.12/3\.13\]")
        child.sendline("3.9")  # not a choice: asked again
        child.expect("Please select one of the available options")
        child.sendline("3.12")
        child.expect("Created")
        wait_for_exit(child)
    finally:
        child.close()
    assert child.exitstatus == 0
    answers = json.loads((tmp_path / "shop" / ".fastscaffold" / "record.json").read_text())[
        "units"
    ]["project"]["answers"]
    assert answers["description"] == "Sells things"
    assert answers["author"] == "Jane Doe"
    assert answers["python_version"] == "3.12"
    pyproject = (tmp_path / "shop" / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.12"' in pyproject


@pytest.mark.parametrize("extra", [[], ["--no-input"]])
def test_new_never_prompts_without_a_terminal(tmp_path: Path, extra: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path), *extra],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads((tmp_path / "shop" / ".fastscaffold" / "record.json").read_text())[
        "units"
    ]["project"]["answers"]
    assert answers["description"] == "A FastAPI service"
    assert answers["python_version"] == "3.11"


def test_no_input_never_prompts_even_on_a_terminal(tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path), "--no-input"],
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    try:
        index = child.expect(["Created", "description"])
        wait_for_exit(child)
    finally:
        child.close()
    assert index == 0, "a question was asked despite --no-input"
    assert child.exitstatus == 0


def test_new_offers_a_pattern_checklist_on_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "FASTSCAFFOLD_PATTERNS_PATH": str(FIXTURE_PATTERNS)}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path), "--description", "Shop"],
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
        env=env,
    )
    try:
        child.expect("Patterns to add")
        child.send(" ")  # select the first entry: greeting
        child.send("\r")
        child.expect("Author")
        child.send("\r")
        child.expect("Lowest Python version")
        child.send("\r")
        child.expect("Created")
        wait_for_exit(child)
    finally:
        child.close()
    assert child.exitstatus == 0
    units = json.loads((tmp_path / "shop" / ".fastscaffold" / "record.json").read_text())["units"]
    assert set(units) == {"project", "counter", "greeting"}


@pytest.mark.parametrize("at", ["description", "Author"])
def test_ctrl_c_at_a_question_aborts_cleanly_and_writes_nothing(tmp_path: Path, at: str) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path), "--with", ""],
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    try:
        if at == "Author":
            child.expect("description")
            child.sendline("")
        child.expect(at)
        child.send(CTRL_C)
        wait_for_exit(child)
        output = child.before
    finally:
        child.close()
    assert child.exitstatus == 130, output
    assert "Aborted." in output and "Nothing was left half-written" in output
    assert "AnswersMap" not in output and "bug in fastscaffold" not in output
    assert list(tmp_path.iterdir()) == []


def test_a_refused_answer_is_asked_again_with_the_reason(tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fastscaffold", "new", "shop", "--dir", str(tmp_path), "--with", "",
         "--author", "Jo", "--python", "3.13"],
        encoding="utf-8", timeout=60, dimensions=(40, 200),
    )  # fmt: skip
    try:
        child.expect("description")
        child.sendline('Say "hi"')
        child.expect("cannot contain quotes")
        child.sendline("Says hi")
        child.expect("Created")
        wait_for_exit(child)
    finally:
        child.close()
    assert child.exitstatus == 0
    answers = json.loads((tmp_path / "shop" / ".fastscaffold" / "record.json").read_text())[
        "units"
    ]["project"]["answers"]
    assert (answers["description"], answers["author"], answers["python_version"]) == (
        "Says hi", "Jo", "3.13",
    )  # fmt: skip
