"""Taking turns at a SQLite file's write lock with the other processes that write it.

SQLite keeps no queue for its write lock: a writer that finds it taken
sleeps and tries again (``busy_timeout``: 1, 2, 5, ... then 100 ms between
tries), and whoever asks first after a commit gets it. A process committing
back to back, as the API does under a burst of submissions, holds the lock
nearly all the time, and another process's tries seldom land in its short
gaps: measured, a worker's first claims waited 0.4-0.6 s behind 2,000
submissions made at once, and a longer burst would run it into
``busy_timeout`` ("database is locked").

So the writers of one file say when they wait. A writer that finds the lock
taken holds a shared ``flock`` on ``<file>.writers`` while it tries again
every millisecond. A writer about to begin first tries that file
exclusively; if it cannot, someone is waiting, and it lets them begin first
(for at most ``HANDOVER_SECONDS``: the waiter may be waiting behind a third
writer). Under contention the processes thus take turns, one transaction
each, and group commit makes each transaction a whole batch; a writer alone
pays two ``flock`` calls per transaction.

``flock`` locks belong to an open file, so two writers in one process take
turns too; the kernel drops those of a process that dies, so a dead waiter
holds nobody up.
"""

import fcntl
import os
import sqlite3
import time

# How long a writer lets a waiting one go first, at most.
HANDOVER_SECONDS = 0.05
HANDOVER_POLL_SECONDS = 0.0002
# The connection's busy timeout: one try, a millisecond's sleep, one more try.
# Longer waits are loops of these, so that a waiter tries every millisecond
# instead of backing off to SQLite's 100 ms between tries.
RETRY_MS = 1


def _busy(exc: sqlite3.OperationalError) -> bool:
    # The primary code: SQLITE_BUSY_RECOVERY and the like are waits too.
    return (exc.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_BUSY


class WriteTurns:
    """The turns of one writer of one SQLite file (used by one thread at a time)."""

    def __init__(self, database: str, timeout: float) -> None:
        self._fd = os.open(f"{database}.writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        self.timeout = timeout

    def close(self) -> None:
        """Close the turns file (dropping any lock on it)."""
        os.close(self._fd)

    def begin(self, connection: sqlite3.Connection) -> None:
        """Begin an immediate transaction on ``connection`` (busy timeout RETRY_MS), in turn.

        Raises:
            sqlite3.OperationalError: The lock stayed taken for ``timeout``
                seconds ("database is locked"), or BEGIN failed otherwise.
        """
        self._let_waiters_begin()
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        deadline = time.monotonic() + self.timeout
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _busy(exc) or time.monotonic() >= deadline:
                        raise
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _let_waiters_begin(self) -> None:
        """Wait (briefly) while another writer waits for the lock."""
        deadline: float | None = None
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + HANDOVER_SECONDS
                elif now >= deadline:
                    return
                time.sleep(HANDOVER_POLL_SECONDS)
                continue
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            return
