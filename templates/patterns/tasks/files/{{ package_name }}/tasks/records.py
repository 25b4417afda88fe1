"""What the task store returns and raises, whichever database holds the tasks."""

import asyncio
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from .models import FINISHED


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


def new_owner() -> str:
    """Return a token unique to one claim."""
    return uuid.uuid4().hex
