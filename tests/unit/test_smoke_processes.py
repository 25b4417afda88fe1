"""Steps run in process groups of their own: bounded output, timeouts, stopping everything."""

import os
import sys
import threading
import time
from pathlib import Path

from fastscaffold.smoke.processes import TAIL_LINES, ProcessGroups


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_output_is_kept_as_a_bounded_tail(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(5000): print(i)\nsys.exit(3)"
    done = ProcessGroups().run(
        [sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), timeout=60
    )
    assert done.returncode == 3 and not done.timed_out
    assert len(done.tail) == TAIL_LINES
    assert done.tail[-1] == "4999"


def test_a_step_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    # The child starts a grandchild that would outlive it; the group goes down together.
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(p.pid, flush=True)\ntime.sleep(60)"
    )
    done = ProcessGroups().run(
        [sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), timeout=2
    )
    assert done.timed_out and done.returncode < 0
    grandchild = int(done.tail[0])
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_kill_all_stops_running_groups_and_refuses_new_ones(tmp_path: Path) -> None:
    groups = ProcessGroups()
    ended: list[int] = []
    worker = threading.Thread(
        target=lambda: ended.append(
            groups.run(
                [sys.executable, "-c", "import time; time.sleep(60)"],
                cwd=tmp_path,
                env=dict(os.environ),
                timeout=120,
            ).returncode
        )
    )
    worker.start()
    deadline = time.monotonic() + 20
    while not groups._groups and time.monotonic() < deadline:
        time.sleep(0.02)
    groups.kill_all()
    worker.join(timeout=20)
    assert ended and ended[0] < 0
    later = groups.run(["true"], cwd=tmp_path, env=dict(os.environ), timeout=5)
    assert later.returncode != 0 and "stopped before it started" in later.tail[0]


def test_a_missing_program_is_a_failed_step_not_a_crash(tmp_path: Path) -> None:
    done = ProcessGroups().run(["/nonexistent/tool"], cwd=tmp_path, env=dict(os.environ), timeout=5)
    assert done.returncode == 127 and "cannot start" in done.tail[0]
