"""Fixtures for tests that use the database: each test gets an empty one of its own.

By default it is a SQLite file in the test's temporary folder. When
``DATABASE_URL`` names a PostgreSQL database (as the CI's services job
does), each test gets a schema of its own there (``DATABASE_SCHEMA``),
dropped afterwards: the same tests then run on the engine production uses.
The app migrates the empty database at start-up, as it does in development.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def on_postgres() -> bool:
    """Return whether the tests run on PostgreSQL (DATABASE_URL names it)."""
    return os.environ.get("DATABASE_URL", "").startswith("postgresql")


async def _execute(url: str, statement: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point DATABASE_URL (and DATABASE_SCHEMA) at an empty database for this test alone."""
    url = os.environ.get("DATABASE_URL", "")
    if not on_postgres():
        url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
        yield url
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_execute(url, f'CREATE SCHEMA "{schema}"'))
    monkeypatch.setenv("DATABASE_SCHEMA", schema)
    try:
        yield url
    finally:
        asyncio.run(_execute(url, f'DROP SCHEMA "{schema}" CASCADE'))
