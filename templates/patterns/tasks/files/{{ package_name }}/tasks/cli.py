"""The `worker` management command: run jobs in a process of their own."""

import asyncio
import logging
import signal
from contextlib import suppress
from typing import Annotated, Any

import typer

from ..database import DatabaseSettings, create_engine
from ..logs import configure_logging
from ..migrate import prepare
from ..settings import get_settings
from .service import create_service
from .settings import CLEANUP_SECONDS, TasksSettings
from .store import TaskStore

logger = logging.getLogger(__name__)


async def run_worker(settings: TasksSettings, stop: asyncio.Event | None = None) -> int:
    """Run jobs until ``stop`` is set (or SIGTERM/SIGINT), then shut down gracefully.

    With the taskiq engine, jobs come from the Redis stream; with the
    embedded one, they are claimed from the database like the app does. At
    the signal the worker takes no more work, gives running jobs
    ``TASKS_SHUTDOWN_SECONDS`` and hands the rest back to the queue.

    Returns:
        The exit status: 0, or 1 when the stream listener failed (a bug: Redis
        being away is waited out, not an error).
    """
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)

    engine = create_engine(DatabaseSettings())
    status = 0
    try:
        await prepare(engine)
        service = create_service(TaskStore(engine, settings), settings, worker=True)
        await service.start(run_jobs=True)
        logger.info(
            "worker started (engine %s, concurrency %d)", service.engine, settings.concurrency
        )
        waiting = asyncio.create_task(stop.wait())
        watched: set[asyncio.Task[Any]] = {waiting}
        if service.listener is not None:
            watched.add(service.listener)
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        listener = service.listener
        if listener is not None and listener.done():
            status = 1
            error = None if listener.cancelled() else listener.exception()
            logger.error("the task listener stopped; stopping the worker", exc_info=error)
        started = loop.time()
        logger.info(
            "worker stopping: taking no more work; running jobs get %.1f s, then go back "
            "to the queue (exit within %.1f s)",
            settings.shutdown_seconds,
            settings.shutdown_seconds + CLEANUP_SECONDS,
        )
        await service.stop()
        logger.info("worker stopped after %.1f s", loop.time() - started)
    finally:
        await engine.dispose()
        for signum in handled:
            loop.remove_signal_handler(signum)
    return status


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
        status = asyncio.run(run_worker(settings))
        if status:
            raise typer.Exit(status)
