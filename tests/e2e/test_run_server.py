"""`fastscaffold run` for real: a uvicorn server on a free loopback port, stopped with Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for_http

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_run_serves_health_and_stops_cleanly_on_ctrl_c(base_project: Path, reload: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "fastscaffold", "run", "--port", str(port), reload],
        cwd=base_project / "demo_api",  # found by walking up
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)
        assert status == 200
        assert json.loads(body) == {"status": "ok"}
        docs_status, _ = wait_for_http(f"http://127.0.0.1:{port}/docs")
        assert docs_status == 200
        # Ctrl-C on a terminal signals the whole foreground process group.
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}/health" in output
