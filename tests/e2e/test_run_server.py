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
        if server.stdout is not None:  # closed by communicate(), not after a failure
            server.stdout.close()
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}/health" in output


def _group_members(pgid: int) -> list[int]:
    """Return the pids of live processes in process group ``pgid`` (from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, ...; zombies are already gone for good.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    ("mode", "signum"),
    [
        ("--reload", signal.SIGINT),
        ("--reload", signal.SIGTERM),
        ("--reload", signal.SIGHUP),
        ("--no-reload", signal.SIGTERM),
        ("--workers=2", signal.SIGTERM),
    ],
    ids=["reload-INT", "reload-TERM", "reload-HUP", "no-reload-TERM", "workers-TERM"],
)
def test_a_signal_to_run_alone_stops_every_server_process(
    base_project: Path, mode: str, signum: signal.Signals
) -> None:
    port = free_port()
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "fastscaffold", "run", "--port", str(port), mode,
         "--project", str(base_project)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)[0] == 200
        children = Path(f"/proc/{wrapper.pid}/task/{wrapper.pid}/children").read_text().split()
        (server,) = map(int, children)
        assert len(_group_members(server)) >= (2 if mode != "--no-reload" else 1)
        # What systemd, Docker, a supervisor or `timeout` do: signal the wrapper's pid alone.
        os.kill(wrapper.pid, signum)
        output, _ = wrapper.communicate(timeout=30)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
        if wrapper.stdout is not None:  # closed by communicate(), not after a failure
            wrapper.stdout.close()
    # The server's own status: uvicorn stops cleanly, then exits 0 or (after SIGTERM
    # without the reloader) by the signal it was given, which shells report as 128 + N.
    stopped_by = signal.SIGTERM if signum == signal.SIGHUP else signum
    assert wrapper.returncode in {0, 128 + stopped_by}, output
    assert "Application shutdown complete" in output
    assert _group_members(server) == []
    assert _port_is_free(port)
