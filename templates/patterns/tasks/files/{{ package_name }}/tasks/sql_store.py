"""The task store's writes through SQLAlchemy: PostgreSQL (and SQLite in memory).

Every state change is one SQL statement, so it is atomic on PostgreSQL (and
on SQLite, whose file lock serialises writers). Admission to the queue is
one statement too (it inserts only while the backlog is below
``TASKS_MAX_QUEUED``); on PostgreSQL, where concurrent statements do not
see each other's uncommitted rows, submissions also take a
transaction-scoped advisory lock so that the count they check is exact.
Claims skip rows another worker is claiming (``FOR UPDATE SKIP LOCKED``)
instead of waiting for them, or failing on them.

The statements of a job's path are built once per store, with bound
parameters (:mod:`.sql_statements`); the rarer ones (cancellation, the
reaper's sweep) are built for each call.
"""

import asyncio
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Row, text, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED
from .records import Reaped, TaskRecord
from .settings import TasksSettings
from .sql_statements import c, job_statements, table

PACKAGE = __name__.partition(".")[0]
# The advisory lock submissions take on PostgreSQL: the same in every process of the project.
BACKLOG_LOCK_KEY = zlib.crc32(f"{PACKAGE}:tasks-backlog".encode())
# Taken by every submission on PostgreSQL: built once, like the statements of sql_statements.
BACKLOG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def record(row: Row[Any]) -> TaskRecord:
    """Return a selected row of the table as a :class:`TaskRecord`."""
    return TaskRecord(**row._mapping)


class SqlTasks:
    """The writes of :class:`~.store.TaskStore` through an SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine, settings: TasksSettings) -> None:
        self.engine = engine
        self.settings = settings
        # SQLite has one writer at a time, and a connection that finds the file
        # locked sleeps for milliseconds before it retries: queueing this
        # process's writes here instead makes them an order of magnitude faster.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._sql = job_statements(settings, skip_locked=engine.dialect.name == "postgresql")

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    async def create(
        self, job: str, params: dict[str, Any], key: str | None, now: float
    ) -> TaskRecord | None:
        """Insert a queued task unless the backlog is full (then None).

        Raises:
            sqlalchemy.exc.IntegrityError: The idempotency key is taken.
        """
        values = {
            "p_id": uuid.uuid4().hex,
            "p_job": job,
            "p_params": params,
            "p_status": QUEUED,
            "p_progress": 0,
            "p_version": 1,
            "p_attempts": 0,
            "p_idempotency_key": key,
            "p_cancel_requested": False,
            "p_dispatched": False,
            "p_message_id": None,
            "p_created_at": now,
            "p_updated_at": now,
        }
        async with self._writing() as conn:
            if conn.dialect.name == "postgresql":
                # Held until the insert commits: the next submission counts it.
                await conn.execute(BACKLOG_LOCK, {"key": BACKLOG_LOCK_KEY})
            row = (await conn.execute(self._sql.create, values)).first()
        return None if row is None else record(row)

    async def request_cancel(self, task_id: str, now: float) -> None:
        """Cancel the task if queued; flag it if running."""
        async with self._writing() as conn:
            await conn.execute(
                update(table)
                .where(c.id == task_id, c.status == QUEUED)
                .values(
                    status=CANCELLED,
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                    version=c.version + 1,
                )
            )
            await conn.execute(
                update(table)
                .where(c.id == task_id, c.status == RUNNING, c.cancel_requested.is_(False))
                .values(cancel_requested=True, updated_at=now, version=c.version + 1)
            )

    def _claim_parameters(self, owner: str, now: float) -> dict[str, Any]:
        return {"p_owner": owner, "p_now": now, "p_lease_until": now + self.settings.lease_seconds}

    async def claim_next(self, owner: str, limit: int, now: float) -> list[TaskRecord]:
        """Take up to ``limit`` of the oldest queued tasks for ``owner``, oldest first."""
        parameters = self._claim_parameters(owner, now) | {"p_limit": limit}
        async with self._writing() as conn:
            rows = (await conn.execute(self._sql.claim_oldest, parameters)).all()
        return sorted((record(row) for row in rows), key=lambda task: task.seq)

    async def claim(self, task_id: str, owner: str, now: float) -> TaskRecord | None:
        """Take the task if queued, or running on an expired lease."""
        parameters = self._claim_parameters(owner, now) | {"p_task": task_id}
        async with self._writing() as conn:
            row = (await conn.execute(self._sql.claim_one, parameters)).first()
        return None if row is None else record(row)

    async def renew(
        self, task_id: str, owner: str, progress: int | None, now: float
    ) -> bool | None:
        """Extend the lease (and raise the progress); None when ``owner`` lost the task."""
        parameters: dict[str, Any] = {
            "p_task": task_id,
            "p_owner": owner,
            "p_lease_until": now + self.settings.lease_seconds,
        }
        statement = self._sql.renew_lease
        if progress is not None:
            statement = self._sql.renew_progress
            parameters |= {"p_progress": progress, "p_now": now}
        async with self._writing() as conn:
            row = (await conn.execute(statement, parameters)).first()
        return None if row is None else bool(row[0])

    async def finish(
        self,
        task_id: str,
        owner: str,
        status: str,
        result: Any,
        error: str | None,
        now: float,
        next_owner: str | None = None,
    ) -> tuple[bool, TaskRecord | None]:
        """Record the outcome and, with ``next_owner``, claim the next task, in one transaction."""
        statement = self._sql.finish_succeeded if status == SUCCEEDED else self._sql.finish
        parameters = {
            "p_task": task_id,
            "p_owner": owner,
            "p_status": status,
            "p_result": result,
            "p_error": error,
            "p_now": now,
        }
        claimed = None
        async with self._writing() as conn:
            finished = await conn.execute(statement, parameters)
            if next_owner is not None:
                next_claim = self._claim_parameters(next_owner, now) | {"p_limit": 1}
                rows = (await conn.execute(self._sql.claim_oldest, next_claim)).all()
                claimed = record(rows[0]) if rows else None
        return bool(finished.rowcount), claimed

    async def release(self, task_id: str, owner: str, now: float) -> bool:
        """Hand a claimed task back to the queue; this run does not count."""
        parameters = {"p_task": task_id, "p_owner": owner, "p_now": now}
        async with self._writing() as conn:
            done = await conn.execute(self._sql.release, parameters)
        return bool(done.rowcount)

    async def reap(self, now: float) -> Reaped:
        """Recover expired leases and delete expired results (see ``TaskStore.reap``)."""
        expired = (c.status == RUNNING) & (c.lease_until < now)
        gone = {"owner": None, "lease_until": None, "updated_at": now, "version": c.version + 1}
        attempts = self.settings.max_attempts
        async with self._writing() as conn:
            cancelled = await conn.execute(
                update(table)
                .where(expired, c.cancel_requested.is_(True))
                .values(gone | {"status": CANCELLED, "finished_at": now})
            )
            failed = await conn.execute(
                update(table)
                .where(expired, c.attempts >= attempts)
                .values(
                    gone
                    | {
                        "status": FAILED,
                        "finished_at": now,
                        "error": f"the worker running it stopped {attempts} time(s); "
                        "not retried again",
                    }
                )
            )
            requeued = await conn.execute(
                update(table)
                .where(expired)
                .values(gone | {"status": QUEUED, "dispatched": False, "message_id": None})
                .returning(c.id)
            )
            requeued_ids = [row[0] for row in requeued]
            deleted = await conn.execute(
                sql_delete(table).where(
                    c.status.in_(FINISHED),
                    c.finished_at < now - self.settings.result_ttl_seconds,
                )
            )
        reaped = Reaped(
            requeued=requeued_ids,
            failed=failed.rowcount,
            cancelled=cancelled.rowcount,
            deleted=deleted.rowcount,
        )
        return reaped

    async def mark_dispatched(self, task_id: str, message_id: str | None, dispatched: bool) -> None:
        """Note whether the queued task was handed to the broker, and in which entry."""
        parameters = {"p_task": task_id, "p_dispatched": dispatched, "p_message_id": message_id}
        async with self._writing() as conn:
            await conn.execute(self._sql.mark_dispatched, parameters)
