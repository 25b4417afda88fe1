"""Running a step's command in its own process group, so that Ctrl-C can stop all of it.

Every command starts a new session (hence a process group of its own):
killing the group stops the tool and whatever it spawned (uvicorn under
pytest, pip's builds). Output is kept as a bounded tail, so a chatty tool
cannot grow memory without limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 200


@dataclass(frozen=True)
class Completed:
    """How one command ended.

    Attributes:
        returncode: Its exit code (negative: killed by that signal).
        tail: Its last output lines (stdout and stderr interleaved).
        seconds: How long it ran.
        timed_out: Whether it was killed for running past its timeout.
    """

    returncode: int
    tail: tuple[str, ...]
    seconds: float
    timed_out: bool = False


class ProcessGroups:
    """The process groups a smoke run started and has not reaped yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self.stopping = threading.Event()

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
    ) -> Completed:
        """Run ``argv`` in a new process group; stop the group on timeout or :meth:`kill_all`."""
        started = time.monotonic()
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        with self._lock:
            if self.stopping.is_set():
                return Completed(-signal.SIGINT, ("stopped before it started",), 0.0)
            try:
                process = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",
                    start_new_session=True,
                )
            except OSError as exc:
                return Completed(127, (f"cannot start {argv[0]}: {exc.strerror or exc}",), 0.0)
            self._groups.add(process.pid)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self._kill(process.pid)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip("\n"))
            returncode = process.wait()
        finally:
            timer.cancel()
            # The group may outlive its leader (a server a test left behind): stop it too.
            self._kill(process.pid)
            with self._lock:
                self._groups.discard(process.pid)
            if process.stdout is not None:
                process.stdout.close()
        timed_out = expired.is_set()
        if timed_out:
            tail.append(f"(killed after running past {timeout:.0f} s)")
        return Completed(returncode, tuple(tail), time.monotonic() - started, timed_out)

    @staticmethod
    def _kill(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(pgid, signal.SIGKILL)

    def kill_all(self) -> None:
        """Stop every running group, and refuse to start new ones."""
        with self._lock:
            self.stopping.set()
            groups = list(self._groups)
        for pgid in groups:
            self._kill(pgid)
