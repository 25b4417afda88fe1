"""The export machinery: a bound on concurrent exports, and a stream that cleans up.

An export is opened before the response starts: the slot is taken, the query
runs and the first batch is fetched, so a bad request, a full server or a
database error still gets a proper status code. The stream then reads the rest
batch by batch from the same cursor (`sources.py`: the driver's own, without
the ORM) and releases everything in `finally` (cursor, connection, slot),
whether it ends, fails or the client goes away.
"""

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio.lowlevel import checkpoint
from fastapi import FastAPI, HTTPException, Request, status
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .columns import ExportColumns
from .encoders import Encoder, content_disposition, encode_batch
from .settings import StreamingSettings
from .sources import Batch, RowSource, open_rows

logger = logging.getLogger(__name__)


@dataclass
class ExportSlots:
    """A non-blocking bound on the exports one process serves at once.

    Each export holds a pooled connection and a long read transaction, so a
    request beyond the bound is refused at once rather than queued.
    """

    limit: int
    active: int = 0
    running: set["Export"] = field(default_factory=set)
    """The exports under way, for introspection (and tests)."""

    def try_acquire(self) -> bool:
        """Take a slot if one is free (no await: atomic within the event loop)."""
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        """Give a slot back."""
        self.active -= 1


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Read the settings and create the process's export slots."""
    settings = StreamingSettings()
    app.state.export_settings = settings
    app.state.export_slots = ExportSlots(limit=settings.export_max_concurrent)
    yield


@dataclass(eq=False)
class Export:
    """One running export: its slot and its rows (the driver's cursor), released once."""

    name: str
    slots: ExportSlots
    rows: RowSource | None = None
    rows_sent: int = 0
    completed: bool = False
    started: float = field(default_factory=time.monotonic)
    _closed: bool = False

    async def close(self) -> None:
        """Close the cursor and its connection, free the slot (idempotent)."""
        if self._closed:
            return
        self._closed = True
        # Shielded: cleanup runs to the end even when the export was cancelled.
        with anyio.CancelScope(shield=True):
            try:
                if self.rows is not None:
                    await self.rows.aclose()
            finally:
                self.slots.running.discard(self)
                self.slots.release()
        logger.info(
            "Export %s %s: %d rows in %.1f s",
            self.name,
            "completed" if self.completed else "stopped early",
            self.rows_sent,
            time.monotonic() - self.started,
        )


async def open_export(
    request: Request,
    engine: AsyncEngine,
    statement: Select[Any],
    columns: ExportColumns,
    name: str,
    encoder: Encoder,
) -> tuple[Export, Batch]:
    """Take a slot, run `statement` (which selects `columns`) and fetch its first batch.

    Every batch, the first included, is encoded by `encoder` as it is read.

    Raises:
        HTTPException: 503 with Retry-After when every slot is taken.
    """
    settings: StreamingSettings = request.app.state.export_settings
    slots: ExportSlots = request.app.state.export_slots
    if not slots.try_acquire():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"{slots.limit} exports are already running; retry later.",
            headers={"Retry-After": str(settings.export_retry_after_seconds)},
        )
    export = Export(name=name, slots=slots)
    slots.running.add(export)
    try:
        encode = partial(encode_batch, encoder)
        export.rows = await open_rows(
            engine, statement, columns, settings.export_batch_size, encode
        )
        first = await export.rows.fetch()
    except BaseException:
        await export.close()
        raise
    return export, first


async def stream_export(
    export: Export, first: Batch, encoder: Encoder, settings: StreamingSettings
) -> AsyncGenerator[bytes, None]:
    """Yield the export's chunks: at least `export_chunk_bytes` each, the last excepted.

    A failure after the first byte cannot change the status code any more: it is
    logged, and the stream ends with the encoder's failure marker (NDJSON) or is
    cut off (CSV). The `finally` releases the cursor, connection and slot.
    """
    assert export.rows is not None
    chunk: list[bytes] = []  # encoded batches not sent yet, fewer bytes than a chunk
    size = 0
    try:
        batch = first
        while batch.rows:
            export.rows_sent += batch.rows
            chunk.append(batch.data)
            size += len(batch.data)
            if size >= settings.export_chunk_bytes:
                yield b"".join(chunk)
                chunk.clear()
                size = 0
            batch = await export.rows.fetch()
            # Sends to a gone client return at once: this checkpoint delivers
            # the cancellation even when the fetch did not wait.
            await checkpoint()
        export.completed = True
        # No batch is being read now: what the encoder still holds (a CSV header
        # when no row matched) goes out with the last chunk.
        chunk.append(encoder.take())
        if tail := b"".join(chunk):
            yield tail
    except Exception:
        logger.exception("Export %s failed after %d rows", export.name, export.rows_sent)
        marker = encoder.failure_marker("The export failed; it is incomplete.", export.rows_sent)
        if marker is None:
            raise
        yield b"".join(chunk) + encoder.take() + marker
    finally:
        await export.close()


class ExportResponse(StreamingResponse):
    """A streaming response that always releases its export, within a time limit.

    Starlette stops iterating the body when the client disconnects, but does not
    close the generator; this response does, so the export's `finally` runs at
    once instead of whenever the generator is garbage-collected.
    """

    def __init__(
        self,
        export: Export,
        body: AsyncGenerator[bytes, None],
        *,
        media_type: str,
        filename: str,
        max_seconds: float,
    ) -> None:
        super().__init__(
            body,
            media_type=media_type,
            headers={
                "Content-Disposition": content_disposition(filename),
                "Cache-Control": "no-store",
                # Reverse proxies (nginx) would otherwise buffer the whole export.
                "X-Accel-Buffering": "no",
            },
        )
        self.export = export
        self._body = body
        self.max_seconds = max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the export, cut it after `max_seconds`, and release it whatever happens."""
        try:
            with anyio.move_on_after(self.max_seconds) as scope_limit:
                await super().__call__(scope, receive, send)
            if scope_limit.cancelled_caught:
                logger.warning(
                    "Export %s cut after %.0f s (EXPORT_MAX_SECONDS)",
                    self.export.name,
                    self.max_seconds,
                )
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                await self.export.close()


def export_response(
    export: Export, first: Batch, encoder: Encoder, settings: StreamingSettings
) -> ExportResponse:
    """Build the response that streams `export` in `encoder`'s format."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return ExportResponse(
        export,
        stream_export(export, first, encoder, settings),
        media_type=encoder.media_type,
        filename=f"{export.name}-{stamp}.{encoder.extension}",
        max_seconds=settings.export_max_seconds,
    )


__all__ = [
    "Export",
    "ExportResponse",
    "ExportSlots",
    "export_response",
    "lifespan",
    "open_export",
    "stream_export",
]
