"""One writer thread per SQLite file in each process, with group commit.

SQLite lets one connection write at a time, and a commit is the expensive
part of a write (with ``synchronous=FULL``, an fsync). So every write of
the task store goes to one thread that owns one ``sqlite3`` connection: it
takes all the operations waiting, runs them in one transaction, commits,
and only then resolves their futures (if one fails, the batch runs again
with each operation in a savepoint of its own, so that one failing does
not undo the others). A caller therefore never sees the result of a write
that is not committed, and under load one commit (one fsync) serves many
writes.

Other processes writing the same file (the API and the workers of the
taskiq engine) wait for its lock, taking turns with this one so that none
starves behind another's burst (:mod:`.turns`). The thread exits after
``IDLE_SECONDS`` without work, closing its connection, and starts again on
the next write.
"""

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from .turns import RETRY_MS, WriteTurns

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Writes one transaction takes at most: bounds the work (and the rows
# returned) held before one commit.
MAX_BATCH = 256
IDLE_SECONDS = 2.0
BUSY_TIMEOUT_MS = 30_000


class Batch:
    """What the operations of one transaction share.

    ``queued`` is the number of queued tasks as this transaction sees it,
    once an operation has counted it; an operation that changes it in a way
    it does not track sets it back to None. The transaction holds the
    file's write lock, so nothing else changes it meanwhile.
    """

    def __init__(self) -> None:
        self.queued: int | None = None


Operation = Callable[[sqlite3.Connection, Batch], T]
_Pending = tuple[Operation[Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode (transactions are explicit), in WAL mode.

    Its busy timeout is ``RETRY_MS``: begin its transactions with
    :meth:`.WriteTurns.begin`, which waits up to ``BUSY_TIMEOUT_MS``.
    """
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        # From here on, waits for the write lock are WriteTurns.begin's loops.
        connection.execute(f"PRAGMA busy_timeout={RETRY_MS}")
    except sqlite3.Error:
        connection.close()
        raise
    return connection


class SqliteWriter:
    """Runs write operations on one connection, committing them in groups."""

    def __init__(self, path: str, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def run(self, operation: Operation[T]) -> T:
        """Run ``operation(connection, batch)`` in a transaction; return its result once committed.

        Raises:
            Exception: What the operation raised (its writes are undone), or
                what the commit raised (then no write of its batch happened).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((operation, future, loop))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name=f"tasks-writer:{self.path}", daemon=True
                )
                self._thread.start()
        return await future

    def _serve(self) -> None:
        try:
            connection = connect(self.path, self.synchronous)
            try:
                turns = WriteTurns(self.path, BUSY_TIMEOUT_MS / 1000)
            except OSError:
                connection.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            self._fail_waiting(exc)
            return
        try:
            while True:
                try:
                    first = self._queue.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                _deliver(_commit(connection, turns, batch))
        finally:
            turns.close()
            connection.close()

    def _fail_waiting(self, error: Exception) -> None:
        """The file cannot be opened: each waiting caller gets the error; the next write retries."""
        with self._lock:
            self._thread = None
            failed: list[Outcome] = []
            while True:
                try:
                    _operation, future, loop = self._queue.get_nowait()
                except queue.Empty:
                    break
                failed.append((future, loop, None, error))
        _deliver(failed)


Outcome = tuple["asyncio.Future[Any]", asyncio.AbstractEventLoop, Any, BaseException | None]


def _commit(
    connection: sqlite3.Connection, turns: WriteTurns, pending: list[_Pending]
) -> list[Outcome]:
    try:
        turns.begin(connection)
        try:
            outcomes = _run_all(connection, pending)
        except Exception:
            if len(pending) == 1:
                raise  # alone in its transaction: the rollback below undoes it
            # One operation failed: undo them all, then run each in a
            # savepoint of its own, so that only the failing one is undone.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            turns.begin(connection)
            outcomes = _run_each(connection, pending)
        connection.execute("COMMIT")
    except Exception as exc:
        # Nothing of this batch is committed: every caller gets the error.
        if connection.in_transaction:
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                logger.warning("could not roll back the task store's write", exc_info=True)
        return [(future, loop, None, exc) for _operation, future, loop in pending]
    return outcomes


def _run_all(connection: sqlite3.Connection, pending: list[_Pending]) -> list[Outcome]:
    """Run the operations one after the other; the first to fail raises.

    The usual case, and the cheapest: every statement the writer runs waits
    for the GIL once it returns, and a savepoint per operation (two more
    statements each) is pure cost when nothing fails.
    """
    shared = Batch()
    return [
        (future, loop, operation(connection, shared), None) for operation, future, loop in pending
    ]


def _run_each(connection: sqlite3.Connection, pending: list[_Pending]) -> list[Outcome]:
    """Run each operation in a savepoint of its own: one failing undoes only its writes."""
    shared = Batch()
    outcomes: list[Outcome] = []
    for operation, future, loop in pending:
        connection.execute("SAVEPOINT operation")
        try:
            result = operation(connection, shared)
        except Exception as exc:
            connection.execute("ROLLBACK TO operation")
            shared.queued = None
            outcomes.append((future, loop, None, exc))
        else:
            outcomes.append((future, loop, result, None))
        connection.execute("RELEASE operation")
    return outcomes


def _deliver(outcomes: list[Outcome]) -> None:
    # One wake-up per event loop, not one per future.
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[1], []).append(outcome)
    for loop, mine in by_loop.items():
        # A closed loop raises RuntimeError: nobody waits for these any more.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, mine)


def _resolve(outcomes: list[Outcome]) -> None:
    for future, _loop, result, error in outcomes:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
