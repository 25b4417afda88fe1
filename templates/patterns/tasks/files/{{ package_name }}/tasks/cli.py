"""The `worker` management command: run jobs in a process of their own."""

import asyncio
import logging
import signal
from contextlib import suppress
from typing import Annotated, Any

import typer
from taskiq.receiver import Receiver

from ..database import DatabaseSettings, create_engine
from ..logs import configure_logging
from ..migrate import prepare
from ..settings import get_settings
from .service import create_service
from .settings import TasksSettings
from .store import TaskStore

logger = logging.getLogger(__name__)


async def run_worker(settings: TasksSettings, stop: asyncio.Event | None = None) -> None:
    """Run jobs until ``stop`` is set (or SIGTERM/SIGINT), then shut down gracefully.

    With the taskiq engine, jobs come from the Redis stream; with the
    embedded one, they are claimed from the database like the app does.
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)

    engine = create_engine(DatabaseSettings())
    try:
        await prepare(engine)
        service = create_service(TaskStore(engine, settings), settings, worker=True)
        await service.start(run_jobs=True)
        listening: asyncio.Task[None] | None = None
        finished = asyncio.Event()
        if service.broker is not None:
            receiver = Receiver(
                service.broker,
                run_startup=False,
                max_async_tasks=settings.concurrency,
                wait_tasks_timeout=settings.shutdown_seconds + 15,
            )
            listening = asyncio.create_task(receiver.listen(finished))
        logger.info(
            "worker started (engine %s, concurrency %d)", service.engine, settings.concurrency
        )
        waiting = asyncio.create_task(stop.wait())
        watched: set[asyncio.Task[Any]] = {waiting}
        if listening is not None:
            watched.add(listening)
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        logger.info("worker stopping: running jobs get %s s", settings.shutdown_seconds)
        finished.set()
        await service.runner.drain(settings.shutdown_seconds)
        if listening is not None:
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(listening, timeout=settings.shutdown_seconds + 20)
        await service.stop()
    finally:
        await engine.dispose()
        for signum in handled:
            loop.remove_signal_handler(signum)


def register(cli: typer.Typer) -> None:
    """Add `worker` to the management CLI."""

    @cli.command()
    def worker(
        concurrency: Annotated[
            int | None,
            typer.Option(min=1, help="Jobs run at once [default: TASKS_CONCURRENCY, at least 1]."),
        ] = None,
    ) -> None:
        """Run background jobs in this process until SIGTERM (graceful) or Ctrl-C."""
        app_settings = get_settings()
        configure_logging(app_settings.log_level, app_settings.log_format)
        settings = TasksSettings()
        settings = settings.model_copy(
            update={"concurrency": concurrency or max(1, settings.concurrency)}
        )
        asyncio.run(run_worker(settings))
