"""The task store's writes on a SQLite file: plain SQL through one group-committing writer.

The same statements as the SQLAlchemy ones of :mod:`.store` (which runs
them on PostgreSQL), written out for ``sqlite3``: going through the ORM
and aiosqlite cost about ten times the write itself. Every function here
runs in the writer thread (:mod:`.writer`) inside the transaction of its
batch, and its result reaches the caller only once that is committed.

Admission to the queue stays exact: a batch holds the file's write lock,
so it counts the queued tasks once and keeps the count as it inserts.
"""

import json
import sqlite3
import uuid
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import CANCELLED, FAILED, QUEUED, SUCCEEDED
from .records import Reaped, TaskRecord
from .settings import TasksSettings
from .writer import Batch, SqliteWriter

FIELDS = tuple(TaskRecord.__dataclass_fields__)
COLUMNS = ", ".join(FIELDS)
_JSON_FIELDS = {FIELDS.index("params"), FIELDS.index("result")}
_BOOL_FIELDS = {FIELDS.index("cancel_requested"), FIELDS.index("dispatched")}

OWNED = "id = ? AND owner = ? AND status = 'running'"
CLAIM_SET = (
    "status = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, "
    # ``now`` may predate a row another process inserted while this waited for the lock.
    "started_at = coalesce(started_at, CASE WHEN created_at > ? THEN created_at ELSE ? END), "
    "updated_at = ?, version = version + 1"
)


def sqlite_path(engine: AsyncEngine) -> str | None:
    """Return the file of a SQLite engine (None: not SQLite, or in memory, or a URI)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or url.query:
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return url.database


def record(row: tuple[Any, ...]) -> TaskRecord:
    """Return a row selected as ``COLUMNS`` as a :class:`TaskRecord`."""
    values = list(row)
    for index in _JSON_FIELDS:
        if values[index] is not None:
            values[index] = json.loads(values[index])
    for index in _BOOL_FIELDS:
        values[index] = bool(values[index])
    return TaskRecord(*values)


def _json(value: Any) -> str | None:
    # What SQLAlchemy's JSON type writes on SQLite (json.dumps), so that both read it back.
    return None if value is None else json.dumps(value)


class SqliteTasks:
    """The writes of :class:`~.store.TaskStore` on one SQLite file."""

    def __init__(self, path: str, settings: TasksSettings) -> None:
        self.settings = settings
        self.writer = SqliteWriter(path)

    async def create(
        self, job: str, params: dict[str, Any], key: str | None, now: float
    ) -> TaskRecord | None:
        """Insert a queued task unless the backlog is full (then None).

        Raises:
            sqlite3.IntegrityError: The idempotency key is taken.
        """
        values = (uuid.uuid4().hex, job, json.dumps(params), key, now, now)
        bound = self.settings.max_queued

        def insert(connection: sqlite3.Connection, batch: Batch) -> TaskRecord | None:
            if batch.queued is None:
                query = "SELECT count(*) FROM tasks WHERE status = 'queued'"
                batch.queued = int(connection.execute(query).fetchone()[0])
            if batch.queued >= bound:
                return None
            row = connection.execute(
                "INSERT INTO tasks (id, job, params, status, progress, version, attempts, "
                "idempotency_key, cancel_requested, dispatched, created_at, updated_at) "
                f"VALUES (?, ?, ?, 'queued', 0, 1, 0, ?, 0, 0, ?, ?) RETURNING {COLUMNS}",
                values,
            ).fetchone()
            batch.queued += 1
            return record(row)

        return await self.writer.run(insert)

    async def request_cancel(self, task_id: str, now: float) -> None:
        """Cancel the task if queued; flag it if running."""

        def cancel(connection: sqlite3.Connection, batch: Batch) -> None:
            batch.queued = None
            connection.execute(
                "UPDATE tasks SET status = ?, cancel_requested = 1, finished_at = ?, "
                "updated_at = ?, version = version + 1 WHERE id = ? AND status = 'queued'",
                (CANCELLED, now, now, task_id),
            )
            connection.execute(
                "UPDATE tasks SET cancel_requested = 1, updated_at = ?, version = version + 1 "
                "WHERE id = ? AND status = 'running' AND cancel_requested = 0",
                (now, task_id),
            )

        await self.writer.run(cancel)

    def _claim_oldest(
        self, connection: sqlite3.Connection, batch: Batch, owner: str, limit: int, now: float
    ) -> list[TaskRecord]:
        batch.queued = None
        rows = connection.execute(
            f"UPDATE tasks SET {CLAIM_SET} WHERE seq IN (SELECT seq FROM tasks "
            "WHERE status = 'queued' ORDER BY seq LIMIT ?) AND status = 'queued' "
            f"RETURNING {COLUMNS}",
            (owner, now + self.settings.lease_seconds, now, now, now, limit),
        ).fetchall()
        return sorted((record(row) for row in rows), key=lambda task: task.seq)

    async def claim_next(self, owner: str, limit: int, now: float) -> list[TaskRecord]:
        """Take up to ``limit`` of the oldest queued tasks for ``owner``, oldest first."""

        def claim(connection: sqlite3.Connection, batch: Batch) -> list[TaskRecord]:
            return self._claim_oldest(connection, batch, owner, limit, now)

        return await self.writer.run(claim)

    async def claim(self, task_id: str, owner: str, now: float) -> TaskRecord | None:
        """Take the task if queued, or running on an expired lease."""
        lease = now + self.settings.lease_seconds
        attempts = self.settings.max_attempts

        def claim(connection: sqlite3.Connection, batch: Batch) -> TaskRecord | None:
            batch.queued = None
            row = connection.execute(
                f"UPDATE tasks SET {CLAIM_SET} WHERE id = ? AND (status = 'queued' OR "
                "(status = 'running' AND lease_until < ?)) AND attempts < ? "
                f"RETURNING {COLUMNS}",
                (owner, lease, now, now, now, task_id, now, attempts),
            ).fetchone()
            return None if row is None else record(row)

        return await self.writer.run(claim)

    async def renew(
        self, task_id: str, owner: str, progress: int | None, now: float
    ) -> bool | None:
        """Extend the lease (and raise the progress); None when ``owner`` lost the task."""
        lease = now + self.settings.lease_seconds
        if progress is None:
            statement = f"UPDATE tasks SET lease_until = ? WHERE {OWNED} RETURNING cancel_requested"
            values: tuple[Any, ...] = (lease, task_id, owner)
        else:
            statement = (
                "UPDATE tasks SET lease_until = ?, "
                "progress = CASE WHEN progress < ? THEN ? ELSE progress END, "
                f"updated_at = ?, version = version + 1 WHERE {OWNED} RETURNING cancel_requested"
            )
            values = (lease, progress, progress, now, task_id, owner)

        def renew(connection: sqlite3.Connection, _batch: Batch) -> bool | None:
            row = connection.execute(statement, values).fetchone()
            return None if row is None else bool(row[0])

        return await self.writer.run(renew)

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
        """Record the outcome; False when ``owner`` lost the task meanwhile.

        With ``next_owner``, also claim the oldest queued task for it, in
        the same transaction (a worker's next task costs no commit of its own).
        """
        progress = ", progress = 100" if status == SUCCEEDED else ""
        statement = (
            "UPDATE tasks SET status = ?, result = ?, error = ?, owner = NULL, "
            f"lease_until = NULL, finished_at = ?, updated_at = ?, version = version + 1{progress} "
            f"WHERE {OWNED}"
        )
        values = (status, _json(result), error, now, now, task_id, owner)

        def finish(connection: sqlite3.Connection, batch: Batch) -> tuple[bool, TaskRecord | None]:
            done = connection.execute(statement, values).rowcount > 0
            if next_owner is None:
                return done, None
            claimed = self._claim_oldest(connection, batch, next_owner, 1, now)
            return done, claimed[0] if claimed else None

        return await self.writer.run(finish)

    async def release(self, task_id: str, owner: str, now: float) -> bool:
        """Hand a claimed task back to the queue; this run does not count."""

        def release(connection: sqlite3.Connection, batch: Batch) -> bool:
            batch.queued = None
            return (
                connection.execute(
                    "UPDATE tasks SET status = 'queued', owner = NULL, lease_until = NULL, "
                    "dispatched = 0, message_id = NULL, attempts = attempts - 1, "
                    f"updated_at = ?, version = version + 1 WHERE {OWNED}",
                    (now, task_id, owner),
                ).rowcount
                > 0
            )

        return await self.writer.run(release)

    async def reap(self, now: float) -> Reaped:
        """Recover expired leases and delete expired results (see ``TaskStore.reap``)."""
        attempts = self.settings.max_attempts
        ttl = self.settings.result_ttl_seconds
        expired = "status = 'running' AND lease_until < ?"
        gone = "owner = NULL, lease_until = NULL, updated_at = ?, version = version + 1"
        error = f"the worker running it stopped {attempts} time(s); not retried again"

        def reap(connection: sqlite3.Connection, batch: Batch) -> Reaped:
            batch.queued = None
            cancelled = connection.execute(
                f"UPDATE tasks SET {gone}, status = ?, finished_at = ? "
                f"WHERE {expired} AND cancel_requested = 1",
                (now, CANCELLED, now, now),
            ).rowcount
            failed = connection.execute(
                f"UPDATE tasks SET {gone}, status = ?, finished_at = ?, error = ? "
                f"WHERE {expired} AND attempts >= ?",
                (now, FAILED, now, error, now, attempts),
            ).rowcount
            requeued = connection.execute(
                f"UPDATE tasks SET {gone}, status = ?, dispatched = 0, message_id = NULL "
                f"WHERE {expired} RETURNING id",
                (now, QUEUED, now),
            ).fetchall()
            deleted = connection.execute(
                "DELETE FROM tasks WHERE status IN (?, ?, ?) AND finished_at < ?",
                (SUCCEEDED, FAILED, CANCELLED, now - ttl),
            ).rowcount
            return Reaped(
                requeued=[row[0] for row in requeued],
                failed=failed,
                cancelled=cancelled,
                deleted=deleted,
            )

        return await self.writer.run(reap)

    async def mark_dispatched(self, task_id: str, message_id: str | None, dispatched: bool) -> None:
        """Note whether the queued task was handed to the broker, and in which entry."""

        def mark(connection: sqlite3.Connection, _batch: Batch) -> None:
            connection.execute(
                "UPDATE tasks SET dispatched = ?, message_id = ? WHERE id = ? AND status = ?",
                (int(dispatched), message_id, task_id, QUEUED),
            )

        await self.writer.run(mark)
