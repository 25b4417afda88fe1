"""The naive reference of benchmarks/streaming.py: fetch every row, then answer.

What exports usually look like before they meet a large table: one query,
`fetchall()`, the whole CSV built in memory, one response. Same database and
driver (SQLAlchemy with aiosqlite) as the generated code, so the difference is
the design alone. Serve with `DATABASE_URL=... uvicorn benchmarks.naive_streaming_app:app`.
"""

from __future__ import annotations

import csv
import io
import os

from fastapi import FastAPI, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

app = FastAPI()
engine = create_async_engine(os.environ["DATABASE_URL"])

QUERY = text("SELECT id, name, category, price_cents, created_at FROM items ORDER BY id")


@app.get("/health")
async def health() -> dict[str, str]:
    """Answer when the server is up."""
    return {"status": "ok"}


@app.get("/exports/items.csv")
async def export_items_csv() -> Response:
    """Fetch every item, write the whole CSV, send it in one response."""
    async with engine.connect() as connection:
        rows = (await connection.execute(QUERY)).fetchall()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("id", "name", "category", "price_cents", "created_at"))
    writer.writerows(rows)
    return Response(buffer.getvalue().encode(), media_type="text/csv")
