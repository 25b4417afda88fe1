"""Faults on real processes: a worker killed, Redis restarted empty, a worker stopped.

Workers run as users run them (``python -m <package> worker`` in the
generated project, configured by environment variables), next to the API
under uvicorn, on a private redis-server started without persistence, and
on PostgreSQL or SQLite. Jobs record every run they start and finish in a
file, so the tests count executions instead of trusting the database.

The bounds asserted are those the documented settings define (leases,
reclaim idle time, shutdown time), with generous margins; never throughput.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from tasks_e2e_support import Records, call, project_with_record_job

from tests.services import RedisServer, serve_app

pytestmark = pytest.mark.e2e

PACKAGE = "tasks_faults"
STREAM = f"{PACKAGE}:tasks"  # key_prefix() (no REDIS_KEY_PREFIX) + TASKS_QUEUE_NAME
FINAL = {"succeeded", "failed", "cancelled"}

# Settings that make every bound short. Each bound a test asserts is named
# after the setting that defines it.
LEASE_SECONDS = 2.0
REAP_INTERVAL = LEASE_SECONDS / 3  # TasksSettings.reap_interval
RECLAIM_IDLE_SECONDS = 1.0
RECLAIM_INTERVAL = RECLAIM_IDLE_SECONDS / 2  # TasksSettings.reclaim_interval
SHUTDOWN_SECONDS = 2.0
CLEANUP_SECONDS = 4.0  # settings.CLEANUP_SECONDS: hand-back and leaving the group
BACKOFF_CAP = 5.0  # broker.Backoff: the longest wait between two attempts to reach Redis
MARGIN = 10.0  # slack for slow CI machines; added to every bound


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_with_record_job(tmp_path_factory, "tasks-faults")


@dataclass
class Api:
    """The served API: submit and read tasks over HTTP."""

    url: str
    records: Records

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(self.url, method, path, body)

    def submit(self, key: str, steps: int = 5, delay: float = 0.1) -> str:
        params = {"path": str(self.records.path), "key": key, "steps": steps, "delay": delay}
        status, task = self.call("POST", "/tasks", {"job": "record", "params": params})
        assert status == 202, task
        task_id: str = task["id"]
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        status, task = self.call("GET", f"/tasks/{task_id}")
        assert status == 200, task
        return dict(task)

    def wait(
        self, condition: Callable[[], bool], timeout: float, what: str, *, poll: float = 0.05
    ) -> float:
        """Wait until ``condition()`` holds; return how long it took (fail after ``timeout``)."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not within {timeout:.1f} s: {what}")
            time.sleep(poll)
        return time.monotonic() - started

    def statuses(self, ids: list[str]) -> Counter[str]:
        return Counter(self.task(task_id)["status"] for task_id in ids)

    def all_final(self, ids: list[str]) -> bool:
        return all(self.task(task_id)["status"] in FINAL for task_id in ids)


@dataclass
class Workers:
    """``python -m tasks_faults worker`` processes, their output kept in files."""

    project: Path
    folder: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, env: dict[str, str], concurrency: int = 2) -> subprocess.Popen[bytes]:
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
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        return next(log for p, log in self.started if p is process).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')}" for _, log in self.started
        )

    def wait_started(self, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "worker started" not in self.log(process):
            assert process.poll() is None, f"the worker exited early:\n{self.log(process)}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.log(process)}"
            time.sleep(0.05)

    def kill_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(project: Path, tmp_path: Path) -> Iterator[Workers]:
    """Start workers; at the end kill what is left and print their logs (shown on failure)."""
    started = Workers(project=project, folder=tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
        print(started.logs())


def environment(database_url: str, redis_url: str, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TASKS_ENGINE": "taskiq",
        "TASKS_LEASE_SECONDS": str(LEASE_SECONDS),
        "TASKS_RECLAIM_IDLE_SECONDS": str(RECLAIM_IDLE_SECONDS),
        "TASKS_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
        "TASKS_POLL_SECONDS": "0.1",
        "LOG_LEVEL": "INFO",
        **more,
    }


def exactly_once(records: Records, keys: list[str]) -> dict[str, int]:
    """Return the keys whose completion was recorded other than once, with the count."""
    return {key: n for key in keys if (n := len(records.dones(key))) != 1}


def test_a_worker_killed_mid_batch_loses_nothing_and_runs_nothing_twice(
    project: Path, tmp_path: Path, redis_server: RedisServer, postgres_url: str, workers: Workers
) -> None:
    """kill -9 of one of two workers mid-batch; and messages a dead consumer held, no traffic."""
    env = environment(postgres_url, redis_server.url)
    records = Records(tmp_path / "records.txt")
    redis = Redis.from_url(redis_server.url)
    with serve_app(project, env=env) as served:
        api = Api(served.url, records)

        # A worker that read messages and died before claiming them (what the
        # XREADGROUP COUNT 100 of taskiq-redis left behind): its messages stay
        # pending under a consumer that never comes back, and nothing else is
        # sent afterwards. The workers must take them over on their timer.
        held = [api.submit(f"held-{n}", steps=1) for n in range(3)]
        reply: Any = redis.xreadgroup("tasks", "dead-worker", {STREAM: ">"}, count=3)
        assert len(reply[0][1]) == 3
        first, second = workers.start(env), workers.start(env)
        workers.wait_started(first)
        workers.wait_started(second)
        took = api.wait(
            lambda: api.all_final(held),
            RECLAIM_IDLE_SECONDS + RECLAIM_INTERVAL + MARGIN,
            "the tasks a dead consumer held ran",
        )
        print(f"messages held by a dead consumer reclaimed and run in {took:.1f} s")
        assert exactly_once(records, [f"held-{n}" for n in range(3)]) == {}

        # A batch of short jobs (0.6 s each) on both workers; kill -9 one of
        # them while it runs jobs, never in the instant between a job's last
        # line and the database recording it (see the docs: that run would
        # legitimately run again). A worker reads a message only when a slot
        # is free, that is once the previous run's outcome is recorded: both
        # slots running jobs that started less than half a job ago is safe.
        keys = [f"batch-{n}" for n in range(30)]
        ids = [api.submit(key, steps=6) for key in keys]
        victim = first

        def victim_is_mid_run() -> bool:
            running = records.in_progress(victim.pid)
            return len(running) == 2 and all(time.time() - at < 0.3 for at in running.values())

        api.wait(victim_is_mid_run, 30, "the victim runs jobs", poll=0.005)
        interrupted = set(records.in_progress(victim.pid))
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        print(f"killed the worker while it ran {sorted(interrupted)}")

        # Its tasks go back to the queue once their lease expires (the reaper
        # looks every REAP_INTERVAL), and are sent to the stream again; the
        # surviving worker runs them in their turn.
        by_key = dict(zip(keys, ids, strict=True))

        def requeued(key: str) -> bool:
            task = api.task(by_key[key])
            return bool(task["status"] != "running" or task["attempts"] >= 2)

        recovered = api.wait(
            lambda: all(requeued(key) for key in interrupted),
            LEASE_SECONDS + REAP_INTERVAL + MARGIN,
            "the killed worker's tasks went back to the queue",
            poll=0.02,
        )
        print(f"the killed worker's tasks were back in the queue {recovered:.1f} s after kill -9")
        api.wait(lambda: api.all_final(ids), 60, "the batch finished")
        print(f"the whole batch finished {time.monotonic() - killed_at:.1f} s after kill -9")

        assert api.statuses(ids) == Counter({"succeeded": len(ids)})
        assert exactly_once(records, keys) == {}
        for key in interrupted:
            assert records.starts(key)[0] == victim.pid
            assert records.dones(key)[0] == second.pid
            assert api.task(by_key[key])["attempts"] == 2
        assert second.poll() is None
        # Nothing left unconfirmed in the group (the survivor acknowledged all).
        assert redis.xpending(STREAM, "tasks")["pending"] == 0
    redis.close()


def test_a_redis_restart_without_persistence_loses_no_queued_task(
    project: Path, tmp_path: Path, redis_server: RedisServer, workers: Workers
) -> None:
    """Redis restarts empty mid-batch: workers wait it out, the database re-sends the queue."""
    env = environment(
        f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        redis_server.url,
        TASKS_STREAM_MAXLEN="100",
    )
    records = Records(tmp_path / "records.txt")
    with serve_app(project, env=env) as served:
        api = Api(served.url, records)
        first, second = workers.start(env), workers.start(env)
        workers.wait_started(first)
        workers.wait_started(second)
        keys = [f"before-{n}" for n in range(60)]
        ids = [api.submit(key, steps=3) for key in keys]
        api.wait(lambda: api.statuses(ids)["succeeded"] >= 8, 30, "the batch is under way")

        # Down for two seconds; it comes back with no stream, no group and no
        # messages. Tasks submitted meanwhile are accepted (they are in the
        # database) and sent once Redis answers.
        redis_server.stop()
        stopped_at = time.monotonic()
        during = [f"during-{n}" for n in range(5)]
        ids += [api.submit(key, steps=3) for key in during]
        keys += during
        time.sleep(max(0.0, 2.0 - (time.monotonic() - stopped_at)))
        redis_server.start()
        restarted_at = time.monotonic()
        queued = api.statuses(ids)["queued"]
        print(f"{queued} task(s) queued when Redis came back empty")
        assert queued > 0  # the test is only meaningful when messages were lost

        # Every queued task is sent again from the database: by the reaper
        # (every REAP_INTERVAL) once the workers reconnect (backoff: at most
        # BACKOFF_CAP between two attempts).
        api.wait(lambda: api.statuses(ids)["queued"] == 0, REAP_INTERVAL + BACKOFF_CAP + MARGIN,
                 "no task is left queued")  # fmt: skip
        took = api.wait(lambda: api.all_final(ids), 60, "every task finished")
        print(f"every task finished {time.monotonic() - restarted_at:.1f} s after Redis came back "
              f"({took:.1f} s after nothing was queued any more)")  # fmt: skip

        assert api.statuses(ids) == Counter({"succeeded": len(ids)})
        assert exactly_once(records, keys) == {}
        # The workers waited Redis out instead of exiting, and said so: a
        # worker reading when Redis went away backs off until it answers; one
        # whose slots were all busy meanwhile finds its consumer group gone.
        assert first.poll() is None and second.poll() is None, workers.logs()
        for process in (first, second):
            log = workers.log(process)
            waited = "Redis is unreachable" in log and "Redis answers again" in log
            assert waited or "is gone (Redis lost its data?)" in log, log
        # New work still flows through the recreated stream and group.
        late = api.submit("after", steps=1)
        api.wait(lambda: api.task(late)["status"] == "succeeded", 30, "a task after the restart")
        redis = Redis.from_url(redis_server.url)
        assert redis.xlen(STREAM) <= 100 + 100  # TASKS_STREAM_MAXLEN, trimmed by whole nodes
        redis.close()


def test_sigterm_hands_running_work_back_within_the_shutdown_time(
    project: Path, tmp_path: Path, redis_server: RedisServer, postgres_url: str, workers: Workers
) -> None:
    """SIGTERM: no new work, jobs get TASKS_SHUTDOWN_SECONDS, the rest runs once elsewhere."""
    env = environment(postgres_url, redis_server.url)
    records = Records(tmp_path / "records.txt")
    with serve_app(project, env=env) as served:
        api = Api(served.url, records)
        stopping = workers.start(env, concurrency=2)
        workers.wait_started(stopping)
        short = api.submit("short", steps=8, delay=0.1)  # ends within the shutdown time
        long = api.submit("long", steps=60, delay=0.1)  # does not: handed back
        api.wait(lambda: api.statuses([short, long])["running"] == 2, 30, "both jobs run")
        waiting = api.submit("waiting", steps=2)  # no free slot: stays in the stream

        stopping.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # A rolling deploy: the next worker is already there.
        successor = workers.start(env, concurrency=2)
        code = stopping.wait(timeout=SHUTDOWN_SECONDS + CLEANUP_SECONDS + MARGIN)
        exited = time.monotonic() - signalled
        print(f"the worker exited {exited:.1f} s after SIGTERM (TASKS_SHUTDOWN_SECONDS="
              f"{SHUTDOWN_SECONDS})")  # fmt: skip
        assert code == 0, workers.log(stopping)
        # Within the shutdown time plus the documented clean-up bound, plus
        # the start and exit of a Python process.
        assert exited < SHUTDOWN_SECONDS + CLEANUP_SECONDS + 2.0, workers.log(stopping)
        log = workers.log(stopping)
        assert "handing 1 running task(s) back to the queue" in log, log

        # The short job finished in the stopping worker; the long one was
        # handed back (the successor may have started it already); the
        # stopping worker took nothing new, nor anything back.
        assert records.dones("short") == [stopping.pid]
        assert records.starts("long")[0] == stopping.pid
        assert stopping.pid not in records.starts("long")[1:]
        assert stopping.pid not in records.dones("long")
        assert stopping.pid not in records.starts("waiting")

        api.wait(lambda: api.all_final([short, long, waiting]), 60, "the three tasks finished")
        assert {api.task(t)["status"] for t in (short, long, waiting)} == {"succeeded"}
        # The handed-back task ran once more, in the successor, and only there.
        assert records.starts("long") == [stopping.pid, successor.pid]
        assert records.dones("long") == [successor.pid]
        assert records.starts("waiting") == [successor.pid]
        assert api.task(long)["attempts"] == 1  # the interrupted run does not count
        assert exactly_once(records, ["short", "long", "waiting"]) == {}
