"""The tasks pattern against real servers: kill -9 mid-task, several workers, taskiq on Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tasks_e2e_support import call

from fastscaffold.creation import NewOptions, new_project
from tests.services import RedisServer, serve_app

pytestmark = pytest.mark.e2e

PACKAGE = "tasks_e2e"

# A job whose effect is visible outside the database: one line per completed run.
MARK_JOB = '''

class MarkParams(BaseModel):
    """Parameters of the mark job (fastscaffold's end-to-end tests)."""

    path: str
    steps: int = 20
    delay: float = 0.1


@job("mark")
async def mark(params: MarkParams, progress: Progress) -> int:
    """Take steps, then append one line to ``path``."""
    for step in range(1, params.steps + 1):
        await asyncio.sleep(params.delay)
        await progress.report(100 * step / params.steps)
    with open(params.path, "a") as marks:  # noqa: PTH123
        marks.write("done\\n")
    return params.steps
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("tasks-e2e")
    destination = new_project(
        NewOptions(name="tasks-e2e", parent=parent, patterns=("tasks",))
    ).destination
    jobs = destination / PACKAGE / "tasks" / "jobs.py"
    jobs.write_text(jobs.read_text(encoding="utf-8") + MARK_JOB, encoding="utf-8")
    return destination


def wait_for(base: str, task_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    """Poll until the task's status is in ``statuses`` (a generous bound, not an assertion)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = call(base, "GET", f"/tasks/{task_id}")
        if status == 200 and body["status"] in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not reach {statuses}: {body}")


def database_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        "REDIS_URL": "",
        "TASKS_LEASE_SECONDS": "2",
        "TASKS_POLL_SECONDS": "0.1",
        **more,
    }


def test_a_task_interrupted_by_kill_9_completes_exactly_once_after_restart(
    project: Path, tmp_path: Path
) -> None:
    env = database_env(tmp_path)
    marks = tmp_path / "marks.txt"
    with serve_app(project, env=env) as served:
        status, task = call(
            served.url, "POST", "/tasks", {"job": "mark", "params": {"path": str(marks)}}
        )
        assert status == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = call(served.url, "GET", f"/tasks/{task['id']}")[1]
            if running["status"] == "running" and running["progress"] >= 10:
                break
            time.sleep(0.05)
        assert running["status"] == "running"
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait()
    assert not marks.exists()
    with serve_app(project, env=env) as served:
        done = wait_for(served.url, task["id"], {"succeeded", "failed", "cancelled"})
    assert done["status"] == "succeeded"
    assert done["attempts"] == 2
    assert done["progress"] == 100
    assert marks.read_text() == "done\n"  # the effect happened exactly once


def test_two_uvicorn_workers_share_one_sqlite_file(project: Path, tmp_path: Path) -> None:
    env = database_env(tmp_path, TASKS_CONCURRENCY="2")
    with serve_app(project, env=env, workers=2) as served:
        ids = []
        for index in range(40):
            status, task = call(
                served.url, "POST", "/tasks", {"job": "demo", "params": {"steps": 2, "delay": 0}}
            )
            assert status == 202, (index, task)
            ids.append(task["id"])
        # Every task is readable from whichever worker answers (new connection each time).
        for task_id in ids:
            assert call(served.url, "GET", f"/tasks/{task_id}")[0] == 200
        finished = [wait_for(served.url, task_id, {"succeeded"}) for task_id in ids]
        assert len(served.pids()) >= 3  # the supervisor and two workers
    assert all(task["attempts"] == 1 for task in finished)
    assert {task["result"]["steps"] for task in finished} == {2}


@pytest.fixture
def worker_process(project: Path) -> Iterator[Any]:
    """Start ``python -m tasks_e2e worker`` processes; kill what is left at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", PACKAGE, "worker", "--concurrency", "2"],
            cwd=project,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_taskiq_on_redis_runs_jobs_in_a_separate_worker_and_survives_its_kill(
    project: Path, tmp_path: Path, redis_server: RedisServer, worker_process: Any
) -> None:
    env = database_env(tmp_path, REDIS_URL=redis_server.url, TASKS_ENGINE="auto")
    marks = tmp_path / "marks.txt"
    with serve_app(project, env=env) as served:
        # No worker yet: the API process queues but runs nothing itself.
        status, quick = call(
            served.url, "POST", "/tasks", {"job": "demo", "params": {"steps": 2, "delay": 0}}
        )
        assert status == 202
        status, slow = call(
            served.url, "POST", "/tasks", {"job": "mark", "params": {"path": str(marks)}}
        )
        assert status == 202
        assert call(served.url, "GET", f"/tasks/{quick['id']}")[1]["status"] == "queued"

        first = worker_process(env)
        assert wait_for(served.url, quick["id"], {"succeeded"})["result"] == {"steps": 2}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = call(served.url, "GET", f"/tasks/{slow['id']}")[1]
            if running["status"] == "running" and running["progress"] >= 10:
                break
            time.sleep(0.05)
        assert running["status"] == "running"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

        # Another worker takes the task over once the dead one's lease expires.
        second = worker_process(env)
        done = wait_for(served.url, slow["id"], {"succeeded", "failed", "cancelled"})
        assert done["status"] == "succeeded"
        assert done["attempts"] == 2
        assert marks.read_text() == "done\n"

        # SIGTERM stops the worker gracefully.
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
