"""The README's two commands work as written, so the README cannot drift.

The main command is run verbatim in a copy of the repository on a fresh
virtualenv, with bytecode writing on (as on a user's machine): it builds and
installs the wheel (`pip install .`), which also proves that the templates
are found from an installed wheel, generates a project with its own .venv
and serves it. The installer byte-compiles the templates inside the wheel;
the test checks that none of that reaches a project or its record, and that
`fastscaffold check` passes on the demo after it has been imported, served
and tested. The test command is what CI runs: .ci/run reads it from the
README, and this test checks it reads the same.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, free_port, run_project_tests, wait_for_http

pytestmark = pytest.mark.e2e


def readme_command(marker: str) -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.+)\n```", text)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def _copy_repository(destination: Path) -> None:
    """Copy what a fresh checkout would hold (tracked and new files, nothing ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, (name.decode() for name in listed)):
        source = REPO_ROOT / rel
        if source.is_file():
            (destination / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / rel)


def test_ci_runs_the_readme_test_command() -> None:
    extracted = subprocess.run(
        ["bash", "-c", 'source <(sed -n "/^readme_command()/,/^}/p" .ci/run); '
         "readme_command test-command"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert extracted == readme_command("test-command")
    assert "pytest" in extracted


def test_main_command_installs_generates_and_serves(tmp_path: Path) -> None:
    checkout = tmp_path / "fastscaffold"
    _copy_repository(checkout)
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # write bytecode, as users' machines do
    server = subprocess.Popen(
        ["bash", "-c", readme_command("main-command")],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/health", timeout=540)
        assert (status, body) == (200, b'{"status":"ok"}')
        venv_python = checkout / ".venv" / "bin" / "python"
        # fastscaffold came from the wheel, templates and all.
        where = subprocess.run(
            [str(venv_python), "-c",
             "import fastscaffold.templates as t; print(t.templates_root())"],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert "site-packages" in where and where.endswith("fastscaffold/templates")
        shipped = Path(where)
        assert (shipped / "patterns" / "redis" / "pattern.toml").is_file()
        # A pattern's own tests are fastscaffold's, not shipped to users.
        assert not list(shipped.glob("patterns/*/tests"))
        # --all: every shipped pattern (and the blocks they need) is in the demo.
        demo = checkout / "demo"
        record = json.loads((demo / ".fastscaffold" / "record.json").read_text())
        manifests = (REPO_ROOT / "templates" / "patterns").glob("*/pattern.toml")
        shipped = {manifest.parent.name for manifest in manifests}
        assert set(record["units"]) == {"project"} | shipped
        demo_python = str(demo / ".venv" / "bin" / "python")
        tests = run_project_tests(demo_python, demo)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        _assert_no_artefacts_are_generated(checkout, demo, env, tmp_path)
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if server.stdout is not None:  # closed by communicate(), not after a failure
            server.stdout.close()
    assert server.returncode == 0, output
    assert "Created" in output


def _assert_no_artefacts_are_generated(
    checkout: Path, demo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """The installed wheel's compiled templates never reach a project or its record."""
    fastscaffold = str(checkout / ".venv" / "bin" / "fastscaffold")
    site = next((checkout / ".venv" / "lib").glob("python*/site-packages"))
    assert list((site / "fastscaffold" / "templates").rglob("*.pyc")), "pip compiled nothing?"
    record = json.loads((demo / ".fastscaffold" / "record.json").read_text())
    assert not [path for path in record["files"] if "__pycache__" in path or path.endswith(".pyc")]
    assert not list((demo / ".fastscaffold").rglob("*.pyc"))
    # The demo has been imported, served and tested: its own bytecode is not fastscaffold's.
    assert list(demo.rglob("*.pyc"))
    check = subprocess.run(
        [fastscaffold, "check", "--project", str(demo)], env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    fresh = subprocess.run(
        [fastscaffold, "new", "fresh", "--all", "--no-input", "--dir", str(tmp_path)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert not [
        p for p in (tmp_path / "fresh").rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"
    ]


def test_the_wheel_ships_sources_only(tmp_path: Path) -> None:
    """Bytecode and droppings in a developer's checkout stay out of the wheel's templates."""
    checkout = tmp_path / "fastscaffold"
    _copy_repository(checkout)
    stray = checkout / "templates" / "project" / "files" / "__pycache__"
    stray.mkdir()
    (stray / "stray.cpython-311.pyc").write_bytes(b"\x00")
    (checkout / "templates" / "patterns" / "redis" / ".DS_Store").write_bytes(b"\x00")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path)],
        cwd=checkout, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("fastscaffold-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fastscaffold/templates/project/copier.yml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".DS_Store"))]
