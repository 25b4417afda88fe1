"""The async database engine shared by the patterns that store data.

A fastscaffold building block: SQLite (WAL mode) works out of the box, and
PostgreSQL takes over when ``DATABASE_URL`` names it. Models of every pattern
derive from :class:`Base`; their tables come from Alembic migrations
(``migrations/``, see ``migrate.py``), never from ``create_all``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

# Constraint names Alembic can find again: the database's own would differ per engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DatabaseSettings(BaseSettings):
    """Database settings, from the environment and .env."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/app.db"
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_echo: bool = False
    database_schema: str = Field(default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$")
    database_migrate_on_startup: Literal["auto", "true", "false"] = "auto"
    environment: str = "development"

    @property
    def migrate_on_startup(self) -> bool:
        """Whether the app migrates at start-up: ``auto`` means everywhere but production."""
        if self.database_migrate_on_startup == "auto":
            return self.environment != "production"
        return self.database_migrate_on_startup == "true"


class Base(DeclarativeBase):
    """Base class of the ORM models of every pattern."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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
    """Create the engine ``settings`` describes (the SQLite file's folder included).

    On PostgreSQL, ``DATABASE_SCHEMA`` (when set) is every connection's
    search path: the app's tables, and Alembic's version table, live there.
    """
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.database_echo)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.database_schema:
        connect_args["server_settings"] = {"search_path": settings.database_schema}
    return create_async_engine(
        url,
        echo=settings.database_echo,
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the engine, bring the schema up to date (or check it is), dispose of it at shutdown.

    Outside production the app migrates at start-up, under a lock, so that
    several workers starting at once migrate once. In production (or with
    ``DATABASE_MIGRATE_ON_STARTUP=false``) run ``python -m <package> migrate``
    once before the workers: the app then refuses to start on a schema that
    is behind the code.
    """
    from .migrate import prepare

    engine = create_engine(DatabaseSettings())
    try:
        await prepare(engine)
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
