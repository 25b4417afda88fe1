"""The task service: submission, dispatch, the workers, the lifespan (the reaper: reaper.py).

Delivery, whichever engine runs jobs: the database is the source of truth.
A run starts only through an atomic claim that takes a lease, and every
write of a running task is fenced by its claim token, so while a lease is
renewed no second run of the task starts and its outcome is recorded once
(exactly once after the lease is taken). Jobs still run *at least once*: a
run interrupted before its outcome was recorded (its process died, or it
lost its lease, or it was handed back at shutdown) runs again from the start.

With the taskiq engine, every queued task is in one of these states, and
each has a bounded way out:

- not sent (its sender failed, or Redis was away): the reaper sends it
  (within ``reap_interval``);
- sent and not yet delivered: a worker reads it in its turn;
- delivered to a worker that died before claiming it: another worker
  reclaims it after ``TASKS_RECLAIM_IDLE_SECONDS``;
- sent, and its stream entry lost (Redis restarted without persistence, or
  the stream trimmed): the reaper sends it again.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from taskiq import AcknowledgeType, AsyncBroker
from taskiq.receiver import Receiver

from . import jobs  # noqa: F401 - importing it registers the jobs
from .broker import UNREACHABLE, TaskStream, create_broker, register_run_task
from .health import BrokerHealth
from .reaper import Reaper
from .registry import JobRegistry, registry
from .runner import RELEASED, Runner
from .settings import HAND_BACK_SECONDS, Engine, TasksSettings, redis_connect_timeout, redis_url
from .store import TaskRecord, TaskStore, new_owner

logger = logging.getLogger(__name__)

SKIPPED = "skipped"
# What deliver() returns for a job that ended while its outcome is being written.
ENDED = "ended"
# How long one attempt to hand a task to the broker may take (POST /tasks
# waits for it); on failure the task stays queued and the reaper sends it.
DISPATCH_SECONDS = 5.0


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
        self.stream = broker if isinstance(broker, TaskStream) else None
        self.runner = Runner(store, job_registry, settings, on_release=self._send_again)
        self._send: Callable[[str], Awaitable[object]] | None = (
            None if broker is None else register_run_task(broker, self.deliver)
        )
        self._outcomes: set[asyncio.Task[str]] = set()  # outcomes being written (deliver)
        self.listener: asyncio.Task[None] | None = None
        self._finish_listening = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._health = BrokerHealth()
        self.reaper = Reaper(
            store=store,
            settings=settings,
            dispatch=None if self._send is None else self._send_again,
            stream=self.stream,
            health=self._health,
        )

    async def start(self, *, run_jobs: bool) -> None:
        """Start the reaper and, when ``run_jobs``, this process's workers.

        Embedded engine: claim from the database. Taskiq engine: consume the
        stream, in worker processes only (``broker.is_worker_process``).
        """
        if self.broker is not None:
            await self.broker.startup()
        self._background.append(asyncio.create_task(self.reaper.run_forever()))
        if not run_jobs or self.settings.concurrency <= 0:
            return
        if self.engine == "embedded":
            self._workers = [
                asyncio.create_task(self._work_forever()) for _ in range(self.settings.concurrency)
            ]
        elif self.broker is not None and self.broker.is_worker_process:
            receiver = Receiver(
                self.broker,
                run_startup=False,
                max_async_tasks=self.settings.concurrency,
                max_prefetch=0,
                # deliver() acknowledges once the claim is made: see broker.py.
                ack_type=AcknowledgeType.MANUAL,
                # stop() drains the jobs itself; this only bounds the receiver's own wait.
                wait_tasks_timeout=self.settings.shutdown_seconds + HAND_BACK_SECONDS,
            )
            self.listener = asyncio.create_task(receiver.listen(self._finish_listening))

    async def stop(self) -> None:
        """Stop taking work at once, let running jobs finish in time, hand the rest back.

        Running jobs get ``TASKS_SHUTDOWN_SECONDS`` in all; what is still
        running then goes back to the queue (its run does not count), and
        cleaning up takes at most ``CLEANUP_SECONDS`` (settings.py) more. A
        task handed back is never run again by this process: it stopped
        claiming before it handed anything back.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_seconds
        cleanup_deadline = deadline + HAND_BACK_SECONDS
        self._stopping = True
        self._finish_listening.set()
        self.store.submitted.notify()
        await self.runner.drain(deadline, cleanup_deadline)
        if self._outcomes:  # jobs that ended, whose outcome is still being written
            left = max(0.0, cleanup_deadline - loop.time())
            await asyncio.wait(set(self._outcomes), timeout=left)
        for worker in self._workers:
            await _settle(worker, cleanup_deadline - loop.time())
        self._workers.clear()
        if self.listener is not None:
            await _settle(self.listener, cleanup_deadline - loop.time())
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
            pydantic.ValidationError: The params do not fit the job's model
                (strictly: see :meth:`Job.validate_params`).
            BacklogFull: The queue is full.
            IdempotencyConflict: The key was used for another request.
        """
        found = self.jobs.get(job)
        if found is None:
            raise UnknownJob(job)
        normalised = found.validate_params(params).model_dump(mode="json")
        record, created = await self.store.create(job, normalised, idempotency_key)
        if created:
            await self.dispatch(record.id)
        return record, created

    async def dispatch(self, task_id: str, *, retry: bool = False) -> bool:
        """Hand a queued task to the broker; return whether it was sent.

        Embedded workers poll the store themselves: nothing to send. While
        the broker is failing, submissions do not wait for it (only the
        reaper, with ``retry``, tries again): the task stays queued in the
        database, and the reaper sends it once the broker answers.
        """
        if self._send is None:
            return True
        if not retry and time.monotonic() < self._health.retry_at:
            return False
        try:
            async with asyncio.timeout(DISPATCH_SECONDS):
                if self.stream is not None:
                    message_id: str | None = await self.stream.send(task_id)
                else:
                    await self._send(task_id)
                    message_id = None
        except Exception as exc:
            retry_in = self.settings.reap_interval
            self._health.failed(f"send task {task_id} to the broker", exc, retry_in)
            return False
        self._health.answered()
        try:
            await self.store.mark_dispatched(task_id, message_id)
        except Exception:
            # Still marked unsent: the reaper sends it again (a harmless duplicate).
            logger.warning("task %s was sent, but recording it failed", task_id, exc_info=True)
        return True

    async def cancel(self, task_id: str) -> TaskRecord | None:
        """Request the cancellation of a task; return it (None when unknown)."""
        record = await self.store.request_cancel(task_id)
        self.runner.cancel_local(task_id)
        return record

    async def deliver(
        self, task_id: str, acknowledge: Callable[[], Awaitable[None]] | None = None
    ) -> str:
        """Claim the task ``task_id`` and run it here (the taskiq worker's entry point).

        ``acknowledge`` confirms the message to the broker: called once the
        database has taken over, that is once the task is claimed or found
        not to need running (finished, cancelled, or leased by a live worker:
        a duplicate). If the claim fails (database unreachable) the message
        stays unconfirmed and is delivered again.

        Returns once the job has ended, while its outcome is still being
        written: the worker's slot takes the next message meanwhile, so that
        claim and this outcome share a commit rather than wait for each
        other. :meth:`stop` waits for the outcomes still being written. The
        status returned is :data:`ENDED` when the outcome is not yet written.
        """
        if self._stopping:
            # Stopping: claim nothing more. The reaper of a live process sends
            # the task again; this message is dropped.
            await self.store.mark_undispatched(task_id)
            await self._acknowledge(task_id, acknowledge)
            return SKIPPED
        owner = new_owner()
        record = await self.store.claim(task_id, owner)
        await self._acknowledge(task_id, acknowledge)
        if record is None:
            return SKIPPED
        if self._stopping:  # the stop began while claiming: do not start it
            await self.runner.hand_back(record, owner)
            return RELEASED
        ended = asyncio.get_running_loop().create_future()
        run = asyncio.ensure_future(self.runner.run(record, owner, lambda: ended.set_result(None)))
        try:
            await asyncio.wait({run, ended}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if not ended.done():  # cancelled mid-job: the run hands the task back
                run.cancel()
                await asyncio.wait({run})
            raise
        finally:
            if not run.done():
                self._outcomes.add(run)
                run.add_done_callback(self._outcome_written)
        if not run.done():
            while len(self._outcomes) > self.settings.concurrency:
                # Bounded: a slot waits while more outcomes wait for the database than
                # there are slots (so at most two per slot are pending).
                await asyncio.wait(set(self._outcomes), return_when=asyncio.FIRST_COMPLETED)
            return ENDED
        if ended.done() and not run.cancelled() and run.exception() is not None:
            self._outcome_written(run)  # failed at once: as if in the background
            return ENDED
        return run.result()

    def _outcome_written(self, run: "asyncio.Task[str]") -> None:
        self._outcomes.discard(run)
        if not run.cancelled() and (error := run.exception()) is not None:
            # The lease expires and the task runs again, as after a crash.
            logger.warning("could not record the outcome of a task", exc_info=error)

    async def _acknowledge(
        self, task_id: str, acknowledge: Callable[[], Awaitable[None]] | None
    ) -> None:
        if acknowledge is None:
            return
        try:
            await acknowledge()
        except UNREACHABLE as exc:
            # Delivered again later: the claim makes that copy a no-op.
            logger.warning("could not confirm the message of task %s (%s)", task_id, exc)

    async def _work_forever(self) -> None:
        """One worker slot: claim a task, run it, and claim the next as its outcome is written."""
        store = self.store
        record: TaskRecord | None = None
        owner = new_owner()
        while not self._stopping:
            if record is None:
                owner = new_owner()
                try:
                    claimed = await store.claim_batch(owner, 1)
                except Exception:
                    logger.warning("could not claim a task", exc_info=True)
                    claimed = []
                if not claimed:
                    await store.submitted.wait(self.settings.poll_seconds)
                    continue
                record = claimed[0]
            if self._stopping:  # the stop began while claiming: do not start it
                await self.runner.hand_back(record, owner)
                return
            next_owner = new_owner()
            _status, record = await self.runner.run_and_claim(
                record, owner, None if self._stopping else next_owner
            )
            owner = next_owner
        if record is not None:
            await self.runner.hand_back(record, owner)

    async def reap(self) -> None:
        """One sweep of the reaper (see `reaper.py`), now rather than at its next turn."""
        await self.reaper.sweep()

    async def _send_again(self, task_id: str) -> bool:
        # A task the runner handed back, or the reaper found: sent even while the
        # broker has been failing (dispatch's `retry`).
        return await self.dispatch(task_id, retry=True)


async def _settle(task: asyncio.Task[Any], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``task`` to end, then cancel it."""
    if not task.done():
        await asyncio.wait({task}, timeout=max(0.0, timeout))
    if not task.done():
        task.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await task


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
        broker = create_broker(url, settings, redis_connect_timeout())
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
