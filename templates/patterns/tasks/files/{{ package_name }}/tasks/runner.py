"""Running claimed tasks: heartbeats, cancellation, outcomes, and shutdown hand-back."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from .models import CANCELLED, FAILED, SUCCEEDED
from .registry import JobCancelled, JobRegistry
from .settings import TasksSettings
from .store import TaskRecord, TaskStore

logger = logging.getLogger(__name__)

RELEASED = "released"
LOST = "lost"
# A failed task's `error` keeps at most this much of the exception's message.
MAX_ERROR_CHARS = 2000


class LeaseLost(Exception):
    """This process no longer holds the task: its lease expired and it was taken back."""


class StoreProgress:
    """The :class:`~.registry.Progress` of a claimed task: writes through the store."""

    def __init__(self, store: TaskStore, record: TaskRecord, owner: str) -> None:
        self._store = store
        self._task_id = record.id
        self._owner = owner
        self._last = record.progress
        self.cancelled = False

    async def report(self, percent: float) -> None:
        """Store ``percent`` (clamped to 0..100) and renew the lease.

        Raises:
            JobCancelled: Cancellation of the task was requested.
            LeaseLost: The task was taken back from this process.
        """
        if self.cancelled:
            raise JobCancelled
        value = max(0, min(100, int(percent)))
        if value <= self._last:
            return
        self._last = value
        cancel = await self._store.renew(self._task_id, self._owner, progress=value)
        if cancel is None:
            raise LeaseLost
        if cancel:
            self.cancelled = True
            raise JobCancelled


@dataclass
class _Running:
    work: asyncio.Task[object]
    stops: list[str] = field(default_factory=list)

    def stop(self, reason: str) -> None:
        if not self.work.done():
            self.stops.append(reason)
            self.work.cancel()


class Runner:
    """Runs the jobs of claimed tasks in this process and records their outcome."""

    def __init__(
        self,
        store: TaskStore,
        registry: JobRegistry,
        settings: TasksSettings,
        on_release: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self._on_release = on_release
        self._running: dict[str, _Running] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        """How many jobs run in this process now."""
        return len(self._running)

    def cancel_local(self, task_id: str) -> None:
        """Stop the task at once if it runs in this process (its cancellation was requested)."""
        running = self._running.get(task_id)
        if running is not None:
            running.stop("cancel")

    async def run(
        self, record: TaskRecord, owner: str, job_ended: Callable[[], None] | None = None
    ) -> str:
        """Run the claimed task ``record`` to its end; return the status it ended with.

        ``job_ended`` is called once the job's function has returned (or
        raised), before the outcome is written.
        """
        status, _ = await self.run_and_claim(record, owner, None, job_ended)
        return status

    async def run_and_claim(
        self,
        record: TaskRecord,
        owner: str,
        next_owner: str | None,
        job_ended: Callable[[], None] | None = None,
    ) -> tuple[str, TaskRecord | None]:
        """Run ``record`` as :meth:`run` does; with ``next_owner``, claim the next task for it.

        The claim goes in the transaction that records the outcome. A run
        that ends without recording one (lost, handed back) claims nothing.
        """
        job = self.registry.get(record.job)
        if job is None:
            available = ", ".join(self.registry.names())
            error = f"unknown job {record.job!r}; available jobs: {available}"
            return await self._finish(record, owner, next_owner, FAILED, error=error)
        try:
            params = job.params_model.model_validate(record.params)
        except ValidationError as exc:
            error = f"invalid params: {exc}"
            return await self._finish(record, owner, next_owner, FAILED, error=error)

        progress = StoreProgress(self.store, record, owner)
        running = _Running(asyncio.create_task(job.function(params, progress)))
        self._running[record.id] = running
        self._idle.clear()
        heartbeat = asyncio.create_task(self._heartbeat(record, owner, running, progress))
        try:
            try:
                result = await running.work
            finally:
                heartbeat.cancel()
                with suppress(asyncio.CancelledError):
                    await heartbeat
                if job_ended is not None:
                    job_ended()
        except asyncio.CancelledError:
            reason = running.stops[0] if running.stops else "shutdown"
            if reason == "cancel":
                return await self._finish(record, owner, next_owner, CANCELLED)
            if reason == LOST:
                return LOST, None
            # Shutdown: hand the task back rather than lose it.
            await self.hand_back(record, owner)
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return RELEASED, None
        except JobCancelled:
            return await self._finish(record, owner, next_owner, CANCELLED)
        except LeaseLost:
            return LOST, None
        except Exception as exc:
            logger.warning("task %s (job %s) failed", record.id, record.job, exc_info=True)
            return await self._finish(record, owner, next_owner, FAILED, error=_describe(exc))
        finally:
            self._running.pop(record.id, None)
            if not self._running:
                self._idle.set()
        try:
            jsonable = to_jsonable_python(result)
        except PydanticSerializationError as exc:
            error = f"result not JSON: {exc}"
            return await self._finish(record, owner, next_owner, FAILED, error=error)
        return await self._finish(record, owner, next_owner, SUCCEEDED, result=jsonable)

    async def _finish(
        self,
        record: TaskRecord,
        owner: str,
        next_owner: str | None,
        status: str,
        result: object = None,
        error: str | None = None,
    ) -> tuple[str, TaskRecord | None]:
        if error is not None:
            error = _storable(error)
        done, claimed = await self.store.finish_and_claim(
            record.id, owner, status, result, error, next_owner
        )
        return (status if done else LOST), claimed

    async def hand_back(self, record: TaskRecord, owner: str) -> None:
        """Put a task this process claimed back in the queue, and have it sent to a worker."""
        try:
            released = await self.store.release(record.id, owner)
            if released and self._on_release is not None:
                await self._on_release(record.id)
        except Exception:
            # The lease expires and the reaper re-queues the task.
            logger.warning("could not hand task %s back to the queue", record.id, exc_info=True)

    async def _heartbeat(
        self, record: TaskRecord, owner: str, running: _Running, progress: StoreProgress
    ) -> None:
        interval = min(self.settings.lease_seconds / 3, 5.0)
        while True:
            await asyncio.sleep(interval)
            try:
                cancel = await self.store.renew(record.id, owner)
            except Exception:
                logger.warning("could not renew the lease of task %s", record.id, exc_info=True)
                continue
            if cancel is None:
                logger.warning("task %s was taken back after its lease expired", record.id)
                running.stop(LOST)
                return
            if cancel:
                progress.cancelled = True
                running.stop("cancel")
                return

    async def drain(self, deadline: float, cleanup_deadline: float) -> None:
        """Let running jobs finish until ``deadline``, then hand the rest back.

        Both are event-loop times (``loop.time()``). Handing back (cancel the
        job, one write to the store, one message to the broker) must end by
        ``cleanup_deadline``; a job that ignores cancellation past it keeps
        its task until its lease expires and the reaper re-queues it.
        """
        loop = asyncio.get_running_loop()
        if self._running and deadline > loop.time():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), deadline - loop.time())
        if not self._running:
            return
        logger.info("handing %d running task(s) back to the queue", len(self._running))
        for running in list(self._running.values()):
            running.stop("shutdown")
        with suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), max(0.0, cleanup_deadline - loop.time()))


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _storable(error: str) -> str:
    """Return ``error`` bounded, and without NUL (which PostgreSQL text refuses)."""
    error = error.replace("\x00", "\ufffd")
    if len(error) <= MAX_ERROR_CHARS:
        return error
    return error[: MAX_ERROR_CHARS - 1] + "…"
