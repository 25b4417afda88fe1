"""Where an export's rows come from: the database driver itself, batch by batch.

An export reads every row of a large table once, so it skips what an ORM
adds per row (result objects, type processing; the database already formats
the cells, see `columns.py`) and reads plain tuples from the driver:

- SQLite: a `sqlite3` connection of the export's own on the engine's file,
  read-only (`PRAGMA query_only`), used in a worker thread, one batch per hop:
  the thread reads the next batch, rewrites its timestamps (`iso_utc_texts`)
  and encodes it while the event loop sends the last one. The event loop
  never waits for the disk, and a client that goes away interrupts the
  query (`Connection.interrupt`) instead of waiting for it. (Encoding on the
  loop instead, measured on a million rows, made the two take turns for the
  GIL: each batch's `csv` call holds it for milliseconds, and the reader
  needs it for every row it builds.)
- PostgreSQL: the pooled asyncpg connection under the engine's connection, a
  server-side cursor inside a read-only transaction, one batch per round trip,
  encoded on the loop while the server sends the next.

Both compile the export's SQLAlchemy statement with the engine's dialect, so
filters are bound parameters exactly as SQLAlchemy would send them.
"""

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol
from urllib.parse import quote

import anyio
from sqlalchemy import DateTime, Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .columns import ExportColumns, iso_utc_texts
from .encoders import utc_text

Row = Sequence[Any]

# Turns a batch of rows into the bytes sent (`encoders.encode_batch`).
Encode = Callable[[Sequence[Row]], bytes]


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch as the export sends it: how many rows, and their encoded bytes."""

    rows: int
    data: bytes


class RowSource(Protocol):
    """An open query: encoded batches until an empty one, then closed."""

    @property
    def closed(self) -> bool:
        """Whether the query, and what it holds (connection, cursor), is released."""

    async def fetch(self) -> Batch:
        """Return the next batch (no rows at the end)."""

    async def aclose(self) -> None:
        """Release the query and its connection (idempotent, safe after a cancellation)."""


def compile_for_driver(statement: Select[Any], dialect: Dialect) -> tuple[str, list[Any]]:
    """Return `statement` as the driver's SQL and its positional parameters.

    Each parameter goes through its type's bind processor for `dialect`, as
    SQLAlchemy's own execution does.
    """
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    parameters: list[Any] = []
    for name in compiled.positiontup or ():
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        value = values[name]
        parameters.append(processor(value) if processor is not None else value)
    return str(compiled), parameters


_SQLITE = sqlite.dialect()
_read_sqlite_datetime = DateTime().dialect_impl(_SQLITE).result_processor(_SQLITE, None)


def _iso_utc_fallback(value: object) -> str | None:
    """Format a stored timestamp in another shape than SQLAlchemy's, as SQLAlchemy reads it.

    Raises:
        ValueError, TypeError: `value` is not a timestamp SQLAlchemy can read.
    """
    if value is None or _read_sqlite_datetime is None:
        return None
    parsed = _read_sqlite_datetime(value)
    if not isinstance(parsed, datetime):
        raise TypeError(f"{value!r} is not a timestamp")
    return utc_text(parsed)


class SqliteRows:
    """An export's own read-only sqlite3 connection and cursor, used in worker threads.

    A lock is held by whichever thread uses the connection, so closing waits
    for a fetch that a cancellation left running (after interrupting it).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        cursor: sqlite3.Cursor,
        batch: int,
        timestamps: tuple[int, ...],
        encode: Encode,
    ) -> None:
        self._connection = connection
        self._cursor = cursor
        self._batch = batch
        self._timestamps = timestamps
        self._encode = encode
        self._lock = threading.Lock()
        self._next: asyncio.Future[Batch] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (or being closed)."""
        return self._closed

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        statement: Select[Any],
        columns: ExportColumns,
        batch: int,
        encode: Encode,
    ) -> "SqliteRows":
        """Connect to the engine's database file and run `statement` (`columns`) on it.

        Raises:
            RuntimeError: The engine's database is in memory (no other
                connection could see it).
        """
        path = engine.url.database
        if not path or path == ":memory:" or engine.url.query.get("mode") == "memory":
            raise RuntimeError("Exports need a SQLite database file, not an in-memory database.")
        sql, parameters = compile_for_driver(statement, engine.dialect)
        return await anyio.to_thread.run_sync(
            cls._open, path, sql, parameters, batch, columns.timestamp_positions, encode
        )

    @classmethod
    def _open(
        cls,
        path: str,
        sql: str,
        parameters: list[Any],
        batch: int,
        timestamps: tuple[int, ...],
        encode: Encode,
    ) -> "SqliteRows":
        # mode=rw: never create the file (a missing database is an error, not an empty one).
        uri = f"file:{quote(path)}?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
        try:
            connection.execute("PRAGMA query_only = ON")
            # One statement: it reads one snapshot of the database (WAL) to the end.
            cursor = connection.execute(sql, parameters)
        except BaseException:
            connection.close()
            raise
        return cls(connection, cursor, batch, timestamps, encode)

    async def fetch(self) -> Batch:
        """Return the next batch, and start reading the one after it in a worker thread.

        The next batch is read and encoded while the caller sends this one. A
        cancellation (the client went away, the time limit) returns at once
        and interrupts the query; `aclose` then waits for the thread.
        """
        pending = self._next if self._next is not None else self._start()
        self._next = None
        try:
            batch = await pending
        except asyncio.CancelledError:
            self._connection.interrupt()
            raise
        if batch.rows:
            self._next = self._start()
        return batch

    def _start(self) -> "asyncio.Future[Batch]":
        return asyncio.get_running_loop().run_in_executor(None, self._read)

    def _read(self) -> Batch:
        # One batch at a time: the next starts only once the caller took this one,
        # so the encoder is never used by two threads at once.
        rows = self._fetch()
        return Batch(len(rows), self._encode(rows) if rows else b"")

    def _fetch(self) -> Sequence[Row]:
        with self._lock:
            if self._closed:
                return []
            rows: list[Any] = self._cursor.fetchmany(self._batch)
        if not rows or not self._timestamps:
            return rows
        # The timestamps come as stored (columns.py): each column is rewritten in one
        # go, and the rows rebuilt as lists, the cheapest to rebuild and to encode.
        stamps = [
            (position, iso_utc_texts(list(map(itemgetter(position), rows)), _iso_utc_fallback))
            for position in self._timestamps
        ]
        rebuilt = [list(row) for row in rows]
        for position, values in stamps:
            for row, value in zip(rebuilt, values, strict=True):
                row[position] = value
        return rebuilt

    async def aclose(self) -> None:
        """Close the cursor and the connection, once no thread uses them."""
        if self._closed:
            return
        self._closed = True
        if self._next is not None:
            # A read ahead nobody will take: stopped, or interrupted if running.
            if not self._next.cancel() and not self._next.cancelled():
                self._next.exception()  # retrieved: a failed read ahead is not an error now
            self._connection.interrupt()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close)

    def _close(self) -> None:
        with self._lock:
            try:
                self._cursor.close()
            finally:
                self._connection.close()


class AsyncpgRows:
    """A server-side cursor on the asyncpg connection under a pooled SQLAlchemy connection.

    The cursor lives in a read-only transaction of its own, rolled back at the
    end; the connection then goes back to the pool (or is discarded, if the
    rollback failed and its state is unknown).
    """

    def __init__(
        self,
        connection: AsyncConnection,
        transaction: Any,
        cursor: Any,
        batch: int,
        encode: Encode,
    ) -> None:
        self._connection = connection
        self._transaction = transaction
        self._cursor = cursor
        self._batch = batch
        self._encode = encode
        self._next: asyncio.Task[Sequence[Row]] | None = None

    @property
    def closed(self) -> bool:
        """Whether the connection went back to the pool."""
        return self._connection.closed

    @classmethod
    async def open(
        cls, engine: AsyncEngine, statement: Select[Any], batch: int, encode: Encode
    ) -> "AsyncpgRows":
        """Take a pooled connection, begin a read-only transaction, open the cursor."""
        sql, parameters = compile_for_driver(statement, engine.dialect)
        connection = await engine.connect()
        transaction = None
        try:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            starting = driver.transaction(readonly=True)
            await starting.start()
            transaction = starting  # only a started transaction is rolled back
            cursor = await driver.cursor(sql, *parameters)
        except BaseException:
            # The error that stopped the export is the one to report, not the cleanup's.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await _release(connection, transaction)
            raise
        return cls(connection, transaction, cursor, batch, encode)

    async def fetch(self) -> Batch:
        """Return the next batch, encoded, and ask the server for the one after it.

        The next batch travels while this one is encoded and sent.
        Shielded: a cancellation waits for the batch instead of interrupting
        the driver mid-message, which would leave the connection unusable.
        """
        pending = self._next if self._next is not None else self._start()
        self._next = None
        with anyio.CancelScope(shield=True):
            rows = await pending
        if not rows:
            return Batch(0, b"")
        self._next = self._start()
        return Batch(len(rows), self._encode(rows))

    def _start(self) -> "asyncio.Task[Sequence[Row]]":
        return asyncio.ensure_future(self._cursor.fetch(self._batch))

    async def aclose(self) -> None:
        """Roll the transaction back (closing the cursor) and return the connection."""
        if self._connection.closed:
            return
        with anyio.CancelScope(shield=True):
            if self._next is not None:
                # One operation at a time per connection: the read ahead ends first.
                with contextlib.suppress(Exception):
                    await self._next
                self._next = None
            await _release(self._connection, self._transaction)


async def _release(connection: AsyncConnection, transaction: Any) -> None:
    try:
        if transaction is not None:
            await transaction.rollback()
    except Exception:
        # The connection's state is unknown: the pool must not hand it out again.
        await connection.invalidate()
        raise
    finally:
        await connection.close()


async def open_rows(
    engine: AsyncEngine,
    statement: Select[Any],
    columns: ExportColumns,
    batch: int,
    encode: Encode,
) -> RowSource:
    """Run `statement` (which selects `columns`) for an export, reading `batch` rows per fetch.

    Each row, a sequence of the cells of `columns` (timestamps as ISO 8601
    text), is sent as `encode` turns its batch into bytes.

    Raises:
        RuntimeError: The engine's database is neither SQLite nor PostgreSQL
            through asyncpg (the `database` block's drivers).
    """
    dialect = engine.dialect
    if dialect.name == "sqlite":
        return await SqliteRows.open(engine, statement, columns, batch, encode)
    if dialect.name == "postgresql" and dialect.driver == "asyncpg":
        return await AsyncpgRows.open(engine, statement, batch, encode)
    raise RuntimeError(
        f"Exports read from SQLite or from PostgreSQL through asyncpg, not {dialect.name} "
        f"through {dialect.driver}."
    )
