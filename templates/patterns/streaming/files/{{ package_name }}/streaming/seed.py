"""Demo rows for the `items` table, inserted in large batches."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..migrate import prepare
from .models import Item

# Commas, quotes and non-ASCII text, so that exports exercise CSV quoting and UTF-8.
CATEGORIES = ("tools", "garden, outdoor", 'books "classics"', "café & bar", "toys")
EPOCH = datetime(2024, 1, 1)


def demo_rows(first_id: int, count: int) -> Iterator[dict[str, Any]]:
    """Yield `count` deterministic demo rows, ids from `first_id`."""
    for id_ in range(first_id, first_id + count):
        yield {
            "id": id_,
            "name": f"Item {id_:07d}",
            "category": CATEGORIES[id_ % len(CATEGORIES)],
            "price_cents": (id_ * 7919) % 100_000,
            "created_at": EPOCH + timedelta(seconds=id_),
        }


async def seed_items(
    engine: AsyncEngine, rows: int, *, replace: bool = False, batch_size: int = 20_000
) -> int:
    """Insert `rows` demo items after the largest id (into an empty table with `replace`).

    The database is migrated first if needed (as at start-up). Each batch is
    one multi-row insert in its own transaction, so memory stays flat whatever
    `rows` is.

    Returns:
        The id of the last item inserted.
    """
    await prepare(engine)
    async with engine.begin() as connection:
        if replace:
            await connection.execute(delete(Item))
        last = (await connection.execute(select(func.max(Item.id)))).scalar_one_or_none() or 0
    next_id, remaining = last + 1, rows
    while remaining > 0:
        count = min(batch_size, remaining)
        async with engine.begin() as connection:
            await connection.execute(insert(Item), list(demo_rows(next_id, count)))
        next_id += count
        remaining -= count
    return next_id - 1
