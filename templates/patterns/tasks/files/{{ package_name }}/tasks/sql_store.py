"""The task store's writes through SQLAlchemy: PostgreSQL (and SQLite in memory).

Every state change is one SQL statement, so it is atomic on PostgreSQL (and
on SQLite, whose file lock serialises writers). Admission to the queue is
one statement too (it inserts only while the backlog is below
``TASKS_MAX_QUEUED``); on PostgreSQL, where concurrent statements do not
see each other's uncommitted rows, submissions also take a
transaction-scoped advisory lock so that the count they check is exact.
Claims skip rows another worker is claiming (``FOR UPDATE SKIP LOCKED``)
instead of waiting for them, or failing on them.
"""

import asyncio
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Table,
    case,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, TaskRow
from .records import Reaped, TaskRecord
from .settings import TasksSettings

table = cast(Table, TaskRow.__table__)
c = table.c

PACKAGE = __name__.partition(".")[0]
# The advisory lock submissions take on PostgreSQL: the same in every process of the project.
BACKLOG_LOCK_KEY = zlib.crc32(f"{PACKAGE}:tasks-backlog".encode())


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
        idempotency_key = key
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "job": job,
            "params": params,
            "status": QUEUED,
            "progress": 0,
            "version": 1,
            "attempts": 0,
            "idempotency_key": idempotency_key,
            "cancel_requested": False,
            "dispatched": False,
            "message_id": None,
            "created_at": now,
            "updated_at": now,
        }
        queued = select(func.count()).select_from(table).where(c.status == QUEUED)
        room = queued.scalar_subquery() < literal(self.settings.max_queued, BigInteger)
        row_values = select(*(literal(value, c[name].type) for name, value in values.items()))
        statement = insert(table).from_select(list(values), row_values.where(room)).returning(*c)
        async with self._writing() as conn:
            if conn.dialect.name == "postgresql":
                # Held until the insert commits: the next submission counts it.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": BACKLOG_LOCK_KEY}
                )
            row = (await conn.execute(statement)).first()
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

    def _claim_values(self, owner: str, now: float) -> dict[str, Any]:
        return {
            "status": RUNNING,
            "owner": owner,
            "lease_until": now + self.settings.lease_seconds,
            "attempts": c.attempts + 1,
            # ``now`` may predate a row inserted while this claim waited for the lock.
            "started_at": func.coalesce(
                c.started_at, case((c.created_at > now, c.created_at), else_=now)
            ),
            "updated_at": now,
            "version": c.version + 1,
        }

    def _claim_statement(self, owner: str, limit: int, now: float) -> Any:
        oldest = select(c.seq).where(c.status == QUEUED).order_by(c.seq).limit(limit)
        if self.engine.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        # Materialised, so that it runs once: PostgreSQL may evaluate a locking
        # subquery again for each row it joins, and claim more than ``limit``.
        picked = oldest.cte("picked").prefix_with("MATERIALIZED")
        return (
            update(table)
            .where(c.seq.in_(select(picked.c.seq)), c.status == QUEUED)
            .values(self._claim_values(owner, now))
            .returning(*c)
        )

    async def claim_next(self, owner: str, limit: int, now: float) -> list[TaskRecord]:
        """Take up to ``limit`` of the oldest queued tasks for ``owner``, oldest first."""
        async with self._writing() as conn:
            rows = (await conn.execute(self._claim_statement(owner, limit, now))).all()
        return sorted((record(row) for row in rows), key=lambda task: task.seq)

    async def claim(self, task_id: str, owner: str, now: float) -> TaskRecord | None:
        """Take the task if queued, or running on an expired lease."""
        claimable = (c.status == QUEUED) | ((c.status == RUNNING) & (c.lease_until < now))
        statement = (
            update(table)
            .where(c.id == task_id, claimable, c.attempts < self.settings.max_attempts)
            .values(self._claim_values(owner, now))
            .returning(*c)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else record(row)

    def _owned(self, task_id: str, owner: str) -> ColumnElement[bool]:
        return (c.id == task_id) & (c.owner == owner) & (c.status == RUNNING)

    async def renew(
        self, task_id: str, owner: str, progress: int | None, now: float
    ) -> bool | None:
        """Extend the lease (and raise the progress); None when ``owner`` lost the task."""
        values: dict[str, Any] = {"lease_until": now + self.settings.lease_seconds}
        if progress is not None:
            values |= {
                "progress": case((c.progress < progress, progress), else_=c.progress),
                "updated_at": now,
                "version": c.version + 1,
            }
        statement = (
            update(table)
            .where(self._owned(task_id, owner))
            .values(values)
            .returning(c.cancel_requested)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).first()
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
        values: dict[str, Any] = {
            "status": status,
            "result": result,
            "error": error,
            "owner": None,
            "lease_until": None,
            "finished_at": now,
            "updated_at": now,
            "version": c.version + 1,
        }
        if status == SUCCEEDED:
            values["progress"] = 100
        claimed = None
        async with self._writing() as conn:
            finished = await conn.execute(
                update(table).where(self._owned(task_id, owner)).values(values)
            )
            if next_owner is not None:
                rows = (await conn.execute(self._claim_statement(next_owner, 1, now))).all()
                claimed = record(rows[0]) if rows else None
        return bool(finished.rowcount), claimed

    async def release(self, task_id: str, owner: str, now: float) -> bool:
        """Hand a claimed task back to the queue; this run does not count."""
        values = {
            "status": QUEUED,
            "owner": None,
            "lease_until": None,
            "dispatched": False,
            "message_id": None,
            "attempts": c.attempts - 1,
            "updated_at": now,
            "version": c.version + 1,
        }
        async with self._writing() as conn:
            done = await conn.execute(
                update(table).where(self._owned(task_id, owner)).values(values)
            )
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
        async with self._writing() as conn:
            await conn.execute(
                update(table)
                .where(c.id == task_id, c.status == QUEUED)
                .values(dispatched=dispatched, message_id=message_id)
            )
