"""The async database engine shared by the patterns that store data.

A fastscaffold building block: SQLite (WAL mode) works out of the box, and
PostgreSQL takes over when ``DATABASE_URL`` names it. Models of every pattern
derive from :class:`Base`; their tables are created at start-up.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase


class DatabaseSettings(BaseSettings):
    """Database settings, from the environment and .env."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/app.db"
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_echo: bool = False


class Base(DeclarativeBase):
    """Base class of the ORM models of every pattern."""


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer writes; the busy timeout makes a
    # writer wait for the lock instead of failing at once. synchronous=NORMAL
    # is WAL's usual pairing: no fsync per commit (about 10x faster commits),
    # and a crash can lose the last commits but never corrupts the database.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    """Create the engine ``settings`` describes (the SQLite file's folder included)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.database_echo)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the engine, create missing tables, and dispose of the engine at shutdown."""
    engine = create_engine(DatabaseSettings())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        app.state.db_engine = engine
        app.state.db_sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
    finally:
        await engine.dispose()


def get_engine(request: Request) -> AsyncEngine:
    """Return the app's engine (a FastAPI dependency)."""
    engine: AsyncEngine = request.app.state.db_engine
    return engine


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield one session for the request, closed afterwards (a FastAPI dependency)."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.db_sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
