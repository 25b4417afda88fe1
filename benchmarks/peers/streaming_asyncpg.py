"""The limit reference of benchmarks/streaming.py on PostgreSQL: an asyncpg cursor and csv.

What a competent user writes for a CSV export from PostgreSQL when speed is all
that counts: an asyncpg pool, a server-side cursor inside a read-only
transaction, 5,000 rows per fetch, the standard library's csv module, a
FastAPI `StreamingResponse`. No escaping, no bound on concurrent exports:
cells go out as asyncpg decodes them. The generated export is held to at least
0.8x of it (issue 16). Serve with
`DATABASE_URL=postgresql+asyncpg://... uvicorn benchmarks.peers.streaming_asyncpg:app`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

DSN = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
COLUMNS = ("id", "name", "category", "price_cents", "created_at")
QUERY = f"SELECT {', '.join(COLUMNS)} FROM items ORDER BY id"
BATCH = 5000


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pool for the app's life."""
    async with asyncpg.create_pool(DSN, min_size=1, max_size=5) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    """Answer when the server is up."""
    return {"status": "ok"}


async def _batches(pool: asyncpg.Pool) -> AsyncIterator[list[asyncpg.Record]]:
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        cursor = await connection.cursor(QUERY)
        while rows := await cursor.fetch(BATCH):
            yield rows


async def _csv(pool: asyncpg.Pool) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    async for rows in _batches(pool):
        writer.writerows(rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


async def _ndjson(pool: asyncpg.Pool) -> AsyncIterator[bytes]:
    async for rows in _batches(pool):
        lines = [json.dumps(dict(row), default=str) for row in rows]
        yield ("\n".join(lines) + "\n").encode()


@app.get("/exports/items.csv")
async def export_csv() -> StreamingResponse:
    """Stream the items table as CSV."""
    return StreamingResponse(_csv(app.state.pool), media_type="text/csv")


@app.get("/exports/items.ndjson")
async def export_ndjson() -> StreamingResponse:
    """Stream the items table as JSON Lines."""
    return StreamingResponse(_ndjson(app.state.pool), media_type="application/jsonl")
