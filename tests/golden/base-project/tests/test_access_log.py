"""The access log under a real uvicorn: on by default, off by every switch users reach for.

Each case starts the app as production does, with uvicorn and the app's import
path, in a process of its own, because what is tested is how the app's logging set-up
meets the one uvicorn made from its command line before importing the app.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import golden_api

APP = "golden_api.main:app"
# Where the package is imported from (the project, or site-packages once installed):
# the server runs in the test's temporary folder.
APP_DIR = str(Path(golden_api.__file__).resolve().parent.parent)
REQUEST_ID = "access-log-probe-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_and_get_health(flags: list[str], env: dict[str, str], log: Path) -> str:
    """Start uvicorn, GET /health once with a known request id, stop it; return its log."""
    port = _free_port()
    argv = [sys.executable, "-m", "uvicorn", APP, "--app-dir", APP_DIR, "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*argv, *flags], env={**os.environ, **env}, stdout=output, stderr=output
        )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/health", headers={"X-Request-ID": REQUEST_ID}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"uvicorn did not start:\n{log.read_text()}")
                time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return log.read_text()


def test_uvicorns_default_logs_each_request_with_its_id(tmp_path: Path) -> None:
    output = _serve_and_get_health([], {}, tmp_path / "server.log")

    [line] = [line for line in output.splitlines() if "GET /health" in line]
    # Through the app's handler: its format, and the id of the request it answered.
    assert "uvicorn.access" in line
    assert f"[{REQUEST_ID}]" in line
    assert " 200" in line


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--log-level", "warning"], {}),
        (["--no-access-log"], {}),
        ([], {"ACCESS_LOG": "false"}),
        ([], {"LOG_LEVEL": "WARNING"}),
    ],
    ids=["uvicorn --log-level warning", "uvicorn --no-access-log", "ACCESS_LOG", "LOG_LEVEL"],
)
def test_each_switch_turns_the_access_log_off(
    flags: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    output = _serve_and_get_health(flags, env, tmp_path / "server.log")

    assert "GET /health" not in output
    # The server did serve (and would still log problems).
    assert "Traceback" not in output
