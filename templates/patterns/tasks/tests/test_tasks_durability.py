"""What the API acknowledged survives kill -9, and replicas agree on every task.

The first test loads a real uvicorn (embedded engine, SQLite file, four
in-app workers) with concurrent submissions over HTTP while another thread
reads every task back, and kills the server with SIGKILL mid-load. It then
restarts the server with no workers (``TASKS_CONCURRENCY=0``), so that what
the file holds can be read before anything runs again, and finally with
workers, counting each job's runs in a file the job appends to.

The second runs the scale-out set-up: two API replicas (separate uvicorn
processes) and one ``worker`` process, on PostgreSQL and a private
redis-server. Status, progress and cancellation are written by one process
and read from the others.

Bounds asserted are the documented settings (lease, reaper interval) with a
generous margin; never throughput.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tasks_e2e_support import Records, call, project_with_record_job

from tests.services import RedisServer, serve_app

pytestmark = pytest.mark.e2e

PACKAGE = "tasks_durable"
FINAL = {"succeeded", "failed", "cancelled"}
RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}

LEASE_SECONDS = 2.0
REAP_INTERVAL = LEASE_SECONDS / 3  # TasksSettings.reap_interval
MARGIN = 15.0  # slack for a loaded machine; added to every bound


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_with_record_job(tmp_path_factory, "tasks-durable")


def read(base: str, task_id: str) -> dict[str, Any]:
    status, task = call(base, "GET", f"/tasks/{task_id}")
    assert status == 200, (task_id, status, task)
    return dict(task)


def every_task(base: str) -> list[dict[str, Any]]:
    """Walk ``GET /tasks`` page by page; return every task, newest first."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = call(base, "GET", f"/tasks?limit=200{cursor}")
        assert status == 200, page
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        cursor = f"&cursor={page['next_cursor']}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until ``condition()`` holds; return how long it took (fail after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.1f} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def at(value: str) -> float:
    """Return an API timestamp (ISO 8601 with an offset) as seconds since the epoch."""
    return datetime.fromisoformat(value).timestamp()


def runs(path: Path) -> dict[str, dict[str, int]]:
    """Count the starts and ends the record job noted, per key."""
    return Records(path).counts()


@dataclass
class Load:
    """Submitters and an observer against one server, until it dies."""

    url: str
    records: Path
    limit: int
    acknowledged: dict[str, str] = field(default_factory=dict)  # task id -> key
    # The most advanced view of each task the API gave before the kill.
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_key: int = 0

    def submit_forever(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                if self.next_key >= self.limit:
                    return
                key = f"k{self.next_key}"
                self.next_key += 1
            params = {"path": str(self.records), "key": key, "steps": 2, "delay": 0.05}
            try:
                status, task = call(self.url, "POST", "/tasks", {"job": "record", "params": params})
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this submission was never acknowledged
            assert status in (201, 202), (status, task)
            with self.lock:
                self.acknowledged[task["id"]] = key
                self.note(task)

    def observe_forever(self) -> None:
        while not self.stop.is_set():
            try:
                tasks = every_task(self.url)
            except (OSError, http.client.HTTPException, AssertionError, ValueError):
                return
            with self.lock:
                for task in tasks:
                    self.note(task)

    def note(self, task: dict[str, Any]) -> None:
        # Statuses reported only move forward while the server lives (a task
        # goes back to queued only when its lease expires: not within a run).
        seen = self.reported.get(task["id"])
        if seen is None or (RANK[task["status"]], task["attempts"], task["progress"]) >= (
            RANK[seen["status"]],
            seen["attempts"],
            seen["progress"],
        ):
            self.reported[task["id"]] = task

    def counts(self) -> dict[str, int]:
        with self.lock:
            reported = [self.reported[task_id] for task_id in self.acknowledged]
        counted = {"acknowledged": len(reported), "running": 0, "succeeded": 0}
        for task in reported:
            if task["status"] in counted:
                counted[task["status"]] += 1
        return counted


def durable_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        "REDIS_URL": "",
        "TASKS_ENGINE": "embedded",
        "TASKS_LEASE_SECONDS": str(LEASE_SECONDS),
        "TASKS_POLL_SECONDS": "0.1",
        "TASKS_CONCURRENCY": "4",
        **more,
    }


def test_kill_9_under_load_loses_no_acknowledged_task_and_no_reported_status(
    project: Path, tmp_path: Path
) -> None:
    records = tmp_path / "records.txt"
    env = durable_env(tmp_path)

    # 1. Load, and kill -9 mid-load: submissions in flight, jobs running.
    with serve_app(project, env=env) as served:
        load = Load(served.url, records, limit=600)
        threads = [threading.Thread(target=load.submit_forever) for _ in range(4)]
        threads.append(threading.Thread(target=load.observe_forever))
        for thread in threads:
            thread.start()
        try:
            wait_until(
                lambda: (
                    (c := load.counts())["acknowledged"] >= 150
                    and c["succeeded"] >= 20
                    and c["running"] >= 1
                ),
                60,
                "tasks acknowledged, running and succeeded",
            )
            with load.lock:
                os.killpg(served.process.pid, signal.SIGKILL)
                served.process.wait()
                killed_at = time.time()
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=60)
    reported = {task_id: load.reported[task_id] for task_id in load.acknowledged}
    print(f"killed at {load.counts()} ({len(load.acknowledged)} acknowledged)")
    # The kill fell mid-load: some tasks finished, some were queued, some ran.
    assert {RANK[t["status"]] for t in reported.values()} == {0, 1, 2}, reported

    # 2. Restart with no workers: read what the file kept before anything runs.
    with serve_app(project, env=durable_env(tmp_path, TASKS_CONCURRENCY="0")) as served:
        after = {task_id: read(served.url, task_id) for task_id in reported}
        for task_id, before in reported.items():
            now = after[task_id]
            if before["status"] in FINAL:
                # Reported finished: finished the same way, at the same time.
                for name in ("status", "result", "finished_at", "attempts", "progress"):
                    assert now[name] == before[name], (name, before, now)
            elif before["status"] == "running":
                assert now["attempts"] >= before["attempts"], (before, now)
                if now["status"] == "running":
                    assert now["progress"] >= before["progress"], (before, now)
                else:
                    # Finished after it was reported, or its lease expired.
                    assert now["status"] in FINAL | {"queued"}, (before, now)
            else:
                assert now["attempts"] >= before["attempts"], (before, now)

        # The leases of the runs the kill interrupted expire, and the reaper
        # puts those tasks back in the queue; nothing runs them meanwhile.
        def no_stale_lease() -> bool:
            return all(t["status"] != "running" for t in every_task(served.url))

        took = wait_until(no_stale_lease, LEASE_SECONDS + REAP_INTERVAL + MARGIN, "leases expired")
        print(f"the stale leases were reaped {took:.1f} s after the restart")
        kept = {task_id: read(served.url, task_id) for task_id in reported}
    interrupted = {
        task_id for task_id, task in kept.items() if task["status"] == "queued" and task["attempts"]
    }
    assert interrupted, "the kill interrupted no run: the test proved nothing"
    old_runs = runs(records)
    records.rename(tmp_path / "records-before-kill.txt")

    # 3. Restart with workers: everything left runs, once, and only that.
    with serve_app(project, env=env) as served:
        wait_until(
            lambda: all(read(served.url, t)["status"] in FINAL for t in reported),
            120,
            "every acknowledged task finished",
        )
        final = {task_id: read(served.url, task_id) for task_id in reported}
    new_runs = runs(records)
    for task_id, task in final.items():
        key = load.acknowledged[task_id]
        before, new = kept[task_id], new_runs.get(key, {"start": 0, "done": 0})
        assert task["status"] == "succeeded", task
        if before["status"] in FINAL:
            assert task["finished_at"] == before["finished_at"], (before, task)
            assert new["start"] == 0, (key, new)
            assert old_runs[key]["done"] >= 1, (key, old_runs.get(key))
        else:
            # Re-run exactly once, by one claim more than the file held.
            assert new == {"start": 1, "done": 1}, (key, new)
            assert task["attempts"] == before["attempts"] + 1, (before, task)
            assert old_runs.get(key, {"start": 0})["start"] <= before["attempts"], key
    for task_id in interrupted:
        assert final[task_id]["attempts"] == kept[task_id]["attempts"] + 1
        started, finished = (at(final[task_id][name]) for name in ("started_at", "finished_at"))
        assert started < killed_at < finished, final[task_id]


# Two API replicas and a worker, taskiq engine.


@dataclass
class Processes:
    """``python -m tasks_durable worker`` processes; killed at the end."""

    project: Path
    folder: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
        log = self.folder / f"worker-{len(self.started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", PACKAGE, "worker", "--concurrency", str(concurrency)],
                cwd=self.project,
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((process, log))
        deadline = time.monotonic() + 60
        while "worker started" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}" for _, log in self.started
        )


@pytest.fixture
def workers(project: Path, tmp_path: Path) -> Iterator[Processes]:
    started = Processes(project=project, folder=tmp_path)
    try:
        yield started
    finally:
        for process, _ in started.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print(started.logs())


def follow(base: str, task_id: str, into: list[dict[str, Any]]) -> threading.Thread:
    """Read the task's event stream to its end in a thread; each event's data goes ``into``."""

    def read_stream() -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request("GET", f"/tasks/{task_id}/events")
            response = connection.getresponse()
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data: "):
                    into.append(json.loads(line[6:]))
        finally:
            connection.close()

    thread = threading.Thread(target=read_stream)
    thread.start()
    return thread


def test_two_replicas_and_a_worker_agree_on_status_progress_and_cancellation(
    project: Path,
    tmp_path: Path,
    redis_server: RedisServer,
    postgres_url: str,
    workers: Processes,
) -> None:
    records = tmp_path / "records.txt"
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server.url,
        "TASKS_ENGINE": "taskiq",
        "TASKS_LEASE_SECONDS": str(LEASE_SECONDS),
        "TASKS_POLL_SECONDS": "0.1",
        "LOG_LEVEL": "INFO",
    }
    with serve_app(project, env=env) as first, serve_app(project, env=env) as second:
        a, b = first.url, second.url
        workers.start(env, concurrency=1)

        def params(key: str, steps: int, delay: float) -> dict[str, Any]:
            return {"path": str(records), "key": key, "steps": steps, "delay": delay}

        # A long job, submitted to A, followed on B's event stream.
        status, slow = call(
            a, "POST", "/tasks", {"job": "record", "params": params("slow", 200, 0.05)}
        )
        assert status == 202, slow
        events: list[dict[str, Any]] = []
        streaming = follow(b, slow["id"], events)
        wait_until(lambda: read(b, slow["id"])["progress"] >= 5, 30 + MARGIN, "B sees progress")

        # The one worker slot is busy: a second task, sent to B, waits.
        status, waiting = call(
            b, "POST", "/tasks", {"job": "record", "params": params("waiting", 1, 0)}
        )
        assert status == 202, waiting
        assert read(a, waiting["id"])["status"] == "queued"

        # Progress read alternately from both replicas only moves forward.
        seen = []
        for turn in range(20):
            task = read(a if turn % 2 else b, slow["id"])
            assert task["status"] == "running", task
            seen.append(task["progress"])
            time.sleep(0.05)
        assert seen == sorted(seen) and seen[-1] > seen[0], seen

        # Cancelling the queued task on A takes effect at once, on both replicas.
        status, cancelled = call(a, "POST", f"/tasks/{waiting['id']}/cancel")
        assert (status, cancelled["status"]) == (202, "cancelled"), cancelled
        assert read(b, waiting["id"])["status"] == "cancelled"

        # Cancelling the running job on B stops it in the worker, a third process.
        status, asked = call(b, "POST", f"/tasks/{slow['id']}/cancel")
        assert status == 202, asked
        assert asked["cancel_requested"] is True
        wait_until(
            lambda: read(a, slow["id"])["status"] == "cancelled",
            LEASE_SECONDS / 3 + MARGIN,
            "the worker stopped the cancelled job",
        )
        streaming.join(timeout=30)
        assert not streaming.is_alive(), "the event stream did not end with the task"
        stopped = read(a, slow["id"])
        assert stopped["progress"] < 100 and stopped["attempts"] == 1, stopped

        # The worker is free again: the next task runs to the end, seen from B.
        status, after = call(
            a, "POST", "/tasks", {"job": "record", "params": params("after", 2, 0.05)}
        )
        assert status == 202, after
        wait_until(lambda: read(b, after["id"])["status"] == "succeeded", 30 + MARGIN, "it ran")
        assert read(b, after["id"])["progress"] == 100

    counted = runs(records)
    assert counted["slow"] == {"start": 1, "done": 0}  # stopped mid-run, never re-run
    assert "waiting" not in counted  # cancelled before any worker took it
    assert counted["after"] == {"start": 1, "done": 1}
    # The stream B served: every change once, in order, ending with the cancellation.
    assert events, "no event reached the stream"
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress), progress
    assert [e["status"] for e in events][-1] == "cancelled"
    assert {e["status"] for e in events[:-1]} <= {"queued", "running"}, events
