"""The reaper: the sweep that gives every queued or running task a bounded way out.

Each sweep re-queues the tasks whose lease expired (their worker died or
stopped renewing), expires old results, and, with a broker, sends what must
be sent: the tasks just re-queued, those whose sending failed, and those
whose stream entry Redis lost.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .broker import UNREACHABLE, TaskStream
from .health import BrokerHealth
from .settings import TasksSettings
from .store import TaskStore

logger = logging.getLogger(__name__)

# Hands one queued task to the broker; returns whether it was sent (TaskService.dispatch).
Dispatch = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, kw_only=True)
class Reaper:
    """Sweeps the store every ``reap_interval`` seconds (see the module's docstring).

    Attributes:
        store: The tasks' database.
        settings: The tasks' settings (``reap_interval``).
        dispatch: Sends a task to the broker; None with the embedded engine,
            whose workers poll the store themselves.
        stream: The task stream, to find the entries Redis lost (None without one).
        health: The broker's health, shared with the service's sends.
    """

    store: TaskStore
    settings: TasksSettings
    dispatch: Dispatch | None
    stream: TaskStream | None
    health: BrokerHealth

    async def run_forever(self) -> None:
        """Sweep, then wait ``reap_interval``, until cancelled; a failed sweep is logged."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.warning("the task reaper failed; trying again", exc_info=True)
            await asyncio.sleep(self.settings.reap_interval)

    async def sweep(self) -> None:
        """One sweep: re-queue expired leases, expire old results, send what must be sent."""
        reaped = await self.store.reap()
        if reaped.requeued or reaped.failed or reaped.cancelled:
            logger.warning(
                "expired leases: %d task(s) re-queued, %d failed, %d cancelled",
                len(reaped.requeued),
                reaped.failed,
                reaped.cancelled,
            )
        if self.dispatch is None:
            return
        # Stop at the first failure: the broker is away, the next sweep tries again.
        for task_id in reaped.requeued:
            if not await self.dispatch(task_id):
                return
        stale = time.time() - self.settings.reap_interval
        for task_id in await self.store.undispatched(older_than=stale):
            if not await self.dispatch(task_id):
                return
        if self.stream is not None:
            await self._send_lost(self.stream, self.dispatch)

    async def _send_lost(self, stream: TaskStream, dispatch: Dispatch) -> None:
        """Send again the queued tasks whose stream entry Redis lost."""
        sent = await self.store.queued_messages()
        if not sent:
            return
        try:
            lost = await stream.lost(sent.values())
        except UNREACHABLE as exc:
            self.health.failed("check the task stream", exc, self.settings.reap_interval)
            return
        if not lost:
            return
        # Read again: a task claimed (or sent anew) meanwhile needs nothing.
        current = await self.store.queued_messages()
        again = [task for task, mid in sent.items() if mid in lost and current.get(task) == mid]
        if again:
            logger.warning(
                "%d queued task(s) lost their message (Redis restarted without its data, or "
                "the stream was trimmed): sending them again",
                len(again),
            )
        for task_id in again:
            if not await dispatch(task_id):
                return
