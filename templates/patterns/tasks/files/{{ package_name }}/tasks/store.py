"""The job store: atomic claims with leases, fenced writes, and a reaper.

Every state change is one SQL statement, so it is atomic on SQLite (whose
file lock serialises writers, across processes too) and on PostgreSQL alike.
Admission to the queue is one statement too (it inserts only while the
backlog is below ``TASKS_MAX_QUEUED``); on PostgreSQL, where concurrent
statements do not see each other's uncommitted rows, submissions also take
a transaction-scoped advisory lock so that the count they check is exact.
"""

import asyncio
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .models import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, TaskRow
from .settings import TasksSettings

table = cast(Table, TaskRow.__table__)
c = table.c

PACKAGE = __name__.partition(".")[0]
# The advisory lock submissions take on PostgreSQL: the same in every process of the project.
BACKLOG_LOCK_KEY = zlib.crc32(f"{PACKAGE}:tasks-backlog".encode())


@dataclass(frozen=True)
class TaskRecord:
    """A task as stored (times are seconds since the epoch)."""

    seq: int
    id: str
    job: str
    params: dict[str, Any]
    status: str
    progress: int
    version: int
    attempts: int
    result: Any
    error: str | None
    idempotency_key: str | None
    cancel_requested: bool
    owner: str | None
    lease_until: float | None
    dispatched: bool
    message_id: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def finished(self) -> bool:
        """Whether the task reached a final status."""
        return self.status in FINISHED


@dataclass(frozen=True)
class Reaped:
    """What one sweep of the reaper did."""

    requeued: list[str]
    failed: int
    cancelled: int
    deleted: int


class BacklogFull(Exception):
    """The queue holds ``TASKS_MAX_QUEUED`` tasks already."""


class IdempotencyConflict(Exception):
    """An ``Idempotency-Key`` was reused for a different job or different params."""


class Changes:
    """Wakes the coroutines of this process that wait for a change."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Return at the next change, or after ``timeout`` seconds."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


def _record(row: Row[Any]) -> TaskRecord:
    return TaskRecord(**row._mapping)


def new_owner() -> str:
    """Return a token unique to one claim."""
    return uuid.uuid4().hex


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
        are queued, in one statement (``INSERT ... SELECT ... WHERE``), so
        concurrent submissions, from any number of processes, never queue
        more than the bound.

        Raises:
            BacklogFull: The queue is full.
            IdempotencyConflict: The key names a task of another job or params.
        """
        if idempotency_key is not None:
            existing = await self._by_key(idempotency_key, job, params)
            if existing is not None:
                return existing, False
        now = time.time() if now is None else now
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
        try:
            async with self._writing() as conn:
                if conn.dialect.name == "postgresql":
                    # Held until the insert commits: the next submission counts it.
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": BACKLOG_LOCK_KEY}
                    )
                row = (await conn.execute(statement)).first()
        except IntegrityError:
            # Another request with the same key won the race: answer with its task.
            if idempotency_key is None:
                raise
            existing = await self._by_key(idempotency_key, job, params)
            if existing is None:
                raise
            return existing, False
        if row is None:
            raise BacklogFull
        self.submitted.notify()
        self._notify()
        return _record(row), True

    async def _by_key(self, key: str, job: str, params: dict[str, Any]) -> TaskRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(table).where(c.idempotency_key == key))).first()
        if row is None:
            return None
        record = _record(row)
        if record.job != job or record.params != params:
            raise IdempotencyConflict
        return record

    async def get(self, task_id: str) -> TaskRecord | None:
        """Return the task ``task_id``, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(table).where(c.id == task_id))).first()
        return None if row is None else _record(row)

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
            return [_record(row) for row in await conn.execute(query)]

    async def count(self, status: str) -> int:
        """Return how many tasks have ``status``."""
        async with self.engine.connect() as conn:
            query = select(func.count()).select_from(table).where(c.status == status)
            return int((await conn.execute(query)).scalar_one())

    async def request_cancel(self, task_id: str, now: float | None = None) -> TaskRecord | None:
        """Cancel a queued task at once; ask a running one to stop. Return the task."""
        now = time.time() if now is None else now
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
        self._notify()
        return await self.get(task_id)

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

    async def claim_next(self, owner: str, now: float | None = None) -> TaskRecord | None:
        """Take the oldest queued task for ``owner``, with a lease; None when none is queued."""
        now = time.time() if now is None else now
        oldest = select(c.seq).where(c.status == QUEUED).order_by(c.seq).limit(1).scalar_subquery()
        statement = (
            update(table)
            .where(c.seq == oldest, c.status == QUEUED)
            .values(self._claim_values(owner, now))
            .returning(*c)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        self._notify()
        return _record(row)

    async def claim(self, task_id: str, owner: str, now: float | None = None) -> TaskRecord | None:
        """Take the task ``task_id`` if it is queued, or running on an expired lease."""
        now = time.time() if now is None else now
        claimable = (c.status == QUEUED) | ((c.status == RUNNING) & (c.lease_until < now))
        statement = (
            update(table)
            .where(c.id == task_id, claimable, c.attempts < self.settings.max_attempts)
            .values(self._claim_values(owner, now))
            .returning(*c)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        self._notify()
        return _record(row)

    def _owned(self, task_id: str, owner: str) -> ColumnElement[bool]:
        return (c.id == task_id) & (c.owner == owner) & (c.status == RUNNING)

    async def renew(
        self, task_id: str, owner: str, progress: int | None = None, now: float | None = None
    ) -> bool | None:
        """Extend the lease (and raise the progress); return whether cancellation was asked.

        Returns None when ``owner`` no longer holds the task: its lease expired
        and the task was re-queued or finished by someone else.
        """
        now = time.time() if now is None else now
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
        if row is None:
            return None
        if progress is not None:
            self._notify()
        return bool(row[0])

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
        now = time.time() if now is None else now
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
        async with self._writing() as conn:
            done = await conn.execute(
                update(table).where(self._owned(task_id, owner)).values(values)
            )
        self._notify()
        return bool(done.rowcount)

    async def release(self, task_id: str, owner: str, now: float | None = None) -> bool:
        """Hand a claimed task back to the queue (at shutdown); this run does not count."""
        now = time.time() if now is None else now
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
        self.submitted.notify()
        self._notify()
        return bool(done.rowcount)

    async def reap(self, now: float | None = None) -> Reaped:
        """Recover tasks whose lease expired, and delete finished tasks past their TTL.

        A task whose process died goes back to the queue, unless it has used
        its ``TASKS_MAX_ATTEMPTS`` runs (then it fails) or was asked to stop
        (then it is cancelled).
        """
        now = time.time() if now is None else now
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
        if reaped.requeued or reaped.failed or reaped.cancelled:
            self.submitted.notify()
            self._notify()
        return reaped

    async def mark_dispatched(self, task_id: str, message_id: str | None = None) -> None:
        """Note that the task was handed to the broker, in the stream entry ``message_id``."""
        async with self._writing() as conn:
            await conn.execute(
                update(table)
                .where(c.id == task_id, c.status == QUEUED)
                .values(dispatched=True, message_id=message_id)
            )

    async def mark_undispatched(self, task_id: str) -> None:
        """Note that the task's message was dropped: the reaper sends it again."""
        async with self._writing() as conn:
            await conn.execute(
                update(table)
                .where(c.id == task_id, c.status == QUEUED)
                .values(dispatched=False, message_id=None)
            )

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
