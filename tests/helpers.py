"""Helpers shared by fastscaffold's tests."""

from __future__ import annotations

import contextlib
import py_compile
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

# The one free-port probe, fastscaffold.testing's (what pattern authors get too).
from fastscaffold.testing import free_port as free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
LEGACY_PROJECT = REPO_ROOT / "tests" / "fixtures" / "legacy" / "legacy-api-0.1.0"
# The compiled files fastscaffold 0.1 left in that project (and in its base copy), and recorded.
_LEGACY_COMPILED = ("database", "errors")


def copy_legacy_project(parent: Path) -> Path:
    """Copy the fastscaffold 0.1 project into ``parent``, with the compiled files 0.1 left in it.

    Installed from a wheel, 0.1 copied ``__pycache__/*.pyc`` into every project, recorded
    them and kept them in its base copy. Git keeps only sources, so they are compiled here,
    the same bytes in both places, as 0.1 wrote them. Returns the copy.
    """
    project = parent / LEGACY_PROJECT.name
    shutil.copytree(LEGACY_PROJECT, project)
    for module in _LEGACY_COMPILED:
        compiled = Path("legacy_api", "__pycache__", f"{module}.cpython-311.pyc")
        source = project / "legacy_api" / f"{module}.py"
        py_compile.compile(str(source), cfile=str(project / compiled), doraise=True)
        base = project / ".fastscaffold" / "base" / compiled
        base.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project / compiled, base)
    return project


def project_answer_names() -> set[str]:
    """The answers every template sees: the base project's questions (copier.yml)."""
    import yaml

    questions = yaml.safe_load((REPO_ROOT / "templates" / "project" / "copier.yml").read_text())
    return {name for name in questions if not name.startswith("_")}


def build_file_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative POSIX path -> text or bytes) below ``root``; return ``root``."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root


def read_tree(folder: Path, *, exclude_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """Return every file below ``folder`` as relative POSIX path -> text."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith(exclude_prefixes):
            files[rel] = path.read_text(encoding="utf-8")
    return files


def wait_for_http(url: str, *, timeout: float = 60.0) -> tuple[int, bytes]:
    """Poll ``url`` until it answers; return its status and body.

    Raises:
        TimeoutError: Nothing answered within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s (last error: {last})")


def wait_for_exit(child: Any, *, timeout: float = 60.0) -> int | None:
    """Read a pexpect child to its end, wait for it to exit and return its exit status.

    The terminal closes a moment before the process ends (it still unwinds, joins threads,
    flushes); ``close()`` at that moment would hang the process up with SIGHUP and leave no
    exit status. Waiting first lets it exit on its own, as it does for a user; one that has
    not exited ``timeout`` seconds after its terminal closed fails the test.
    """
    import pexpect

    child.expect(pexpect.EOF, timeout=timeout)
    deadline = time.monotonic() + timeout
    while child.isalive():  # reaps the process once it has exited, and keeps its status
        if time.monotonic() > deadline:
            raise AssertionError(f"still running {timeout} s after its terminal closed")
        time.sleep(0.05)
    return child.exitstatus  # type: ignore[no-any-return]


@contextlib.contextmanager
def listening_socket(port: int):  # type: ignore[no-untyped-def]
    """Hold ``127.0.0.1:port`` open, as another server would."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


# A generated project's own test run must end before pytest-timeout (600 s)
# stops the outer test, or its output, which names the test that hung, is lost.
PROJECT_TESTS_TIMEOUT = 480
# After this long in one test, the inner pytest dumps every thread's stack.
HUNG_TEST_SECONDS = 120


def run_project_tests(
    python: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a generated project's pytest with ``python``; a hang fails with its stacks.

    ``-v`` prints each test's name before it runs, so the last line of a run
    that hangs names the test, and faulthandler adds where it is stuck.
    """
    argv = [python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-rfEs",
            "-o", f"faulthandler_timeout={HUNG_TEST_SECONDS}", *args]  # fmt: skip
    try:
        return subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=PROJECT_TESTS_TIMEOUT
        )
    except subprocess.TimeoutExpired as expired:
        output = _text(expired.stdout)[-8000:] + _text(expired.stderr)[-8000:]
        pytest.fail(f"the project's tests ran past {PROJECT_TESTS_TIMEOUT} s:\n{output}")


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
