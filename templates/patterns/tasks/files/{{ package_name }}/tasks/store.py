"""The job store: atomic claims with leases, fenced writes, and a reaper.

Every state change is atomic: one SQL statement, or a few in one
transaction. On a SQLite file the writes go through one group-committing
writer thread in plain SQL (:mod:`.sqlite_store`, :mod:`.writer`); on
PostgreSQL (and SQLite in memory) through SQLAlchemy (:mod:`.sql_store`).
Reads go through SQLAlchemy on either. A method returns only once its
write is committed, so every status the API reports is durable.
"""

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import QUEUED
from .records import (
    BacklogFull,
    Changes,
    IdempotencyConflict,
    Reaped,
    TaskRecord,
    new_owner,
)
from .settings import TasksSettings
from .sql_statements import c, table
from .sql_store import SqlTasks, record
from .sqlite_store import SqliteTasks, sqlite_path

__all__ = [
    "BacklogFull",
    "Changes",
    "IdempotencyConflict",
    "Reaped",
    "TaskRecord",
    "TaskStore",
    "new_owner",
]


class TaskStore:
    """Tasks in the app's database, shared by every process that uses it."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: TasksSettings,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.changed = Changes()
        self.submitted = Changes()
        self._on_change = on_change
        path = sqlite_path(engine)
        self._writes: SqliteTasks | SqlTasks = (
            SqlTasks(engine, settings) if path is None else SqliteTasks(path, settings)
        )

    def _notify(self) -> None:
        self.changed.notify()
        if self._on_change is not None:
            self._on_change()

    async def create(
        self,
        job: str,
        params: dict[str, Any],
        idempotency_key: str | None = None,
        now: float | None = None,
    ) -> tuple[TaskRecord, bool]:
        """Queue a task; return it and whether it is new.

        The task is inserted only while fewer than ``TASKS_MAX_QUEUED`` tasks
        are queued, atomically, so concurrent submissions, from any number of
        processes, never queue more than the bound.

        Raises:
            BacklogFull: The queue is full.
            IdempotencyConflict: The key names a task of another job or params.
        """
        if idempotency_key is not None:
            existing = await self._by_key(idempotency_key, job, params)
            if existing is not None:
                return existing, False
        now = time.time() if now is None else now
        try:
            created = await self._writes.create(job, params, idempotency_key, now)
        except (IntegrityError, sqlite3.IntegrityError):
            # Another request with the same key won the race: answer with its task.
            existing = None
            if idempotency_key is not None:
                existing = await self._by_key(idempotency_key, job, params)
            if existing is None:
                raise
            return existing, False
        if created is None:
            raise BacklogFull
        self.submitted.notify()
        self._notify()
        return created, True

    async def _by_key(self, key: str, job: str, params: dict[str, Any]) -> TaskRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(table).where(c.idempotency_key == key))).first()
        if row is None:
            return None
        found = record(row)
        if found.job != job or found.params != params:
            raise IdempotencyConflict
        return found

    async def get(self, task_id: str) -> TaskRecord | None:
        """Return the task ``task_id``, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(table).where(c.id == task_id))).first()
        return None if row is None else record(row)

    async def page(
        self, status: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[TaskRecord]:
        """Return up to ``limit`` tasks, newest first, older than the one numbered ``before``."""
        query = select(table).order_by(c.seq.desc()).limit(limit)
        if status is not None:
            query = query.where(c.status == status)
        if before is not None:
            # As a BIGINT: PostgreSQL's INTEGER column would refuse a larger parameter.
            query = query.where(c.seq < bindparam("before", before, type_=BigInteger))
        async with self.engine.connect() as conn:
            return [record(row) for row in await conn.execute(query)]

    async def count(self, status: str) -> int:
        """Return how many tasks have ``status``."""
        async with self.engine.connect() as conn:
            query = select(func.count()).select_from(table).where(c.status == status)
            return int((await conn.execute(query)).scalar_one())

    async def request_cancel(self, task_id: str, now: float | None = None) -> TaskRecord | None:
        """Cancel a queued task at once; ask a running one to stop. Return the task."""
        await self._writes.request_cancel(task_id, time.time() if now is None else now)
        self._notify()
        return await self.get(task_id)

    async def claim_next(self, owner: str, now: float | None = None) -> TaskRecord | None:
        """Take the oldest queued task for ``owner``, with a lease; None when none is queued."""
        claimed = await self.claim_batch(owner, 1, now)
        return claimed[0] if claimed else None

    async def claim_batch(
        self, owner: str, limit: int, now: float | None = None
    ) -> list[TaskRecord]:
        """Take up to ``limit`` of the oldest queued tasks for ``owner``, with leases.

        One statement claims them all (on PostgreSQL, skipping rows other
        workers are claiming at that moment instead of waiting for them);
        ``owner`` with the task's id is unique to each claim.
        """
        claimed = await self._writes.claim_next(owner, limit, time.time() if now is None else now)
        if claimed:
            self._notify()
        return claimed

    async def claim(self, task_id: str, owner: str, now: float | None = None) -> TaskRecord | None:
        """Take the task ``task_id`` if it is queued, or running on an expired lease."""
        claimed = await self._writes.claim(task_id, owner, time.time() if now is None else now)
        if claimed is not None:
            self._notify()
        return claimed

    async def renew(
        self, task_id: str, owner: str, progress: int | None = None, now: float | None = None
    ) -> bool | None:
        """Extend the lease (and raise the progress); return whether cancellation was asked.

        Returns None when ``owner`` no longer holds the task: its lease expired
        and the task was re-queued or finished by someone else.
        """
        now = time.time() if now is None else now
        cancel = await self._writes.renew(task_id, owner, progress, now)
        if cancel is not None and progress is not None:
            self._notify()
        return cancel

    async def finish(
        self,
        task_id: str,
        owner: str,
        status: str,
        result: Any = None,
        error: str | None = None,
        now: float | None = None,
    ) -> bool:
        """Record the outcome of a claimed task; False when ``owner`` lost it meanwhile."""
        done, _ = await self.finish_and_claim(task_id, owner, status, result, error, None, now)
        return done

    async def finish_and_claim(
        self,
        task_id: str,
        owner: str,
        status: str,
        result: Any,
        error: str | None,
        next_owner: str | None,
        now: float | None = None,
    ) -> tuple[bool, TaskRecord | None]:
        """Record an outcome (as :meth:`finish`) and, with ``next_owner``, claim the next task.

        Both in one transaction: a busy worker pays one commit per task.

        Returns:
            Whether the outcome was recorded, and the task claimed (or None).
        """
        now = time.time() if now is None else now
        done, claimed = await self._writes.finish(
            task_id, owner, status, result, error, now, next_owner
        )
        self._notify()
        return done, claimed

    async def release(self, task_id: str, owner: str, now: float | None = None) -> bool:
        """Hand a claimed task back to the queue (at shutdown); this run does not count."""
        released = await self._writes.release(task_id, owner, time.time() if now is None else now)
        self.submitted.notify()
        self._notify()
        return released

    async def reap(self, now: float | None = None) -> Reaped:
        """Recover tasks whose lease expired, and delete finished tasks past their TTL.

        A task whose process died goes back to the queue, unless it has used
        its ``TASKS_MAX_ATTEMPTS`` runs (then it fails) or was asked to stop
        (then it is cancelled).
        """
        reaped = await self._writes.reap(time.time() if now is None else now)
        if reaped.requeued or reaped.failed or reaped.cancelled:
            self.submitted.notify()
            self._notify()
        return reaped

    async def mark_dispatched(self, task_id: str, message_id: str | None = None) -> None:
        """Note that the task was handed to the broker, in the stream entry ``message_id``."""
        await self._writes.mark_dispatched(task_id, message_id, dispatched=True)

    async def mark_undispatched(self, task_id: str) -> None:
        """Note that the task's message was dropped: the reaper sends it again."""
        await self._writes.mark_dispatched(task_id, None, dispatched=False)

    async def undispatched(self, older_than: float, limit: int = 500) -> list[str]:
        """Return queued tasks never handed to the broker (their sender died or failed)."""
        query = (
            select(c.id)
            .where(c.status == QUEUED, c.dispatched.is_(False), c.updated_at < older_than)
            .order_by(c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def queued_messages(self, limit: int = 500) -> dict[str, str]:
        """Return the oldest queued tasks sent as stream entries: task id to entry id."""
        query = (
            select(c.id, c.message_id)
            .where(c.status == QUEUED, c.dispatched.is_(True), c.message_id.is_not(None))
            .order_by(c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(query)}
