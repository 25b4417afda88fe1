"""The task service: submission, dispatch, the embedded workers, the reaper, the lifespan."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from taskiq import AsyncBroker

from . import jobs  # noqa: F401 - importing it registers the jobs
from .broker import RunTask, create_broker, register_run_task
from .registry import JobRegistry, registry
from .runner import Runner
from .settings import Engine, TasksSettings, redis_url
from .store import TaskRecord, TaskStore, new_owner

logger = logging.getLogger(__name__)


class UnknownJob(Exception):
    """No job of that name is registered."""


class TaskService:
    """Everything the API and the workers do with tasks, whichever engine runs them."""

    def __init__(
        self,
        store: TaskStore,
        settings: TasksSettings,
        engine: Engine,
        *,
        job_registry: JobRegistry = registry,
        broker: AsyncBroker | None = None,
    ) -> None:
        if engine == "taskiq" and broker is None:
            raise ValueError("the taskiq engine needs a broker")
        self.store = store
        self.settings = settings
        self.engine = engine
        self.jobs = job_registry
        self.broker = broker
        self.runner = Runner(store, job_registry, settings, on_release=self.dispatch)
        self._run_task: RunTask | None = (
            None if broker is None else register_run_task(broker, self.execute)
        )
        self._background: list[asyncio.Task[None]] = []
        self._claimer: asyncio.Task[None] | None = None
        self._jobs_in_flight: set[asyncio.Task[str]] = set()
        self._stopping = False

    async def start(self, *, run_jobs: bool) -> None:
        """Start the reaper, and (embedded engine, ``run_jobs``) this process's workers."""
        if self.broker is not None:
            await self.broker.startup()
        self._background.append(asyncio.create_task(self._reap_forever()))
        if self.engine == "embedded" and run_jobs and self.settings.concurrency > 0:
            self._claimer = asyncio.create_task(self._claim_forever())

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish within the deadline, hand the rest back."""
        self._stopping = True
        self.store.submitted.notify()
        if self._claimer is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._claimer, timeout=30)
            self._claimer = None
        await self.runner.drain(self.settings.shutdown_seconds)
        if self._jobs_in_flight:
            await asyncio.wait(self._jobs_in_flight, timeout=10)
        for task in self._background:
            task.cancel()
        for task in self._background:
            with suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        if self.broker is not None:
            await self.broker.shutdown()

    async def submit(
        self, job: str, params: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[TaskRecord, bool]:
        """Validate and queue a task; return it and whether it is new.

        Raises:
            UnknownJob: No such job.
            pydantic.ValidationError: The params do not fit the job's model.
            BacklogFull: The queue is full.
            IdempotencyConflict: The key was used for another request.
        """
        found = self.jobs.get(job)
        if found is None:
            raise UnknownJob(job)
        normalised = found.params_model.model_validate(params).model_dump(mode="json")
        record, created = await self.store.create(job, normalised, idempotency_key)
        if created:
            await self.dispatch(record.id)
        return record, created

    async def dispatch(self, task_id: str) -> None:
        """Hand a queued task to the engine (embedded workers poll the store themselves)."""
        if self._run_task is None:
            return
        try:
            await self._run_task.kiq(task_id)
            await self.store.mark_dispatched([task_id])
        except Exception:
            # It stays queued and undispatched: the reaper sends it again.
            logger.warning("could not send task %s to the broker", task_id, exc_info=True)

    async def cancel(self, task_id: str) -> TaskRecord | None:
        """Request the cancellation of a task; return it (None when unknown)."""
        record = await self.store.request_cancel(task_id)
        self.runner.cancel_local(task_id)
        return record

    async def execute(self, task_id: str) -> str:
        """Claim the task ``task_id`` and run it here (the taskiq worker's entry point)."""
        if self._stopping:
            return "skipped"
        owner = new_owner()
        record = await self.store.claim(task_id, owner)
        if record is None:
            return "skipped"  # finished, cancelled, or running on a live lease elsewhere
        return await self.runner.run(record, owner)

    async def _claim_forever(self) -> None:
        store = self.store
        while not self._stopping:
            if len(self._jobs_in_flight) >= self.settings.concurrency:
                await store.submitted.wait(self.settings.poll_seconds)
                continue
            owner = new_owner()
            try:
                record = await store.claim_next(owner)
            except Exception:
                logger.warning("could not claim a task", exc_info=True)
                record = None
            if record is None:
                await store.submitted.wait(self.settings.poll_seconds)
                continue
            job = asyncio.create_task(self.runner.run(record, owner))
            self._jobs_in_flight.add(job)
            job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Task[str]) -> None:
        self._jobs_in_flight.discard(job)
        self.store.submitted.notify()  # a slot is free

    async def _reap_forever(self) -> None:
        while True:
            try:
                reaped = await self.store.reap()
                if reaped.requeued or reaped.failed or reaped.cancelled:
                    logger.warning(
                        "expired leases: %d task(s) re-queued, %d failed, %d cancelled",
                        len(reaped.requeued),
                        reaped.failed,
                        reaped.cancelled,
                    )
                if self._run_task is not None:
                    stale = time.time() - self.settings.reap_interval
                    for task_id in await self.store.undispatched(older_than=stale):
                        await self.dispatch(task_id)
            except Exception:
                logger.warning("the task reaper failed; trying again", exc_info=True)
            await asyncio.sleep(self.settings.reap_interval)


def create_service(
    store: TaskStore, settings: TasksSettings, *, worker: bool = False
) -> TaskService:
    """Build the service for the engine the settings choose."""
    url = redis_url()
    engine = settings.resolved_engine(url)
    broker = None
    if engine == "taskiq":
        if not url:
            raise RuntimeError("TASKS_ENGINE=taskiq needs REDIS_URL (redis://host:6379/0)")
        broker = create_broker(url, settings)
        broker.is_worker_process = worker
    return TaskService(store, settings, engine, broker=broker)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the task service (after the database and Redis); stop it gracefully."""
    settings = TasksSettings()
    service = create_service(TaskStore(app.state.db_engine, settings), settings)
    await service.start(run_jobs=True)
    app.state.tasks = service
    try:
        yield
    finally:
        await service.stop()


def get_service(app: FastAPI) -> TaskService:
    """Return the app's task service."""
    service: TaskService = app.state.tasks
    return service
