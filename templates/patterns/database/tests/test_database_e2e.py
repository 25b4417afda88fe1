"""The database block's migrations on real databases: SQLite files and a private PostgreSQL.

A user changes a model, writes a revision with the project's own command,
and upgrades a database that already holds rows; and four uvicorn workers
started at once on an empty PostgreSQL migrate it once, where create_all
used to race (a worker failed on pg_type's unique index and stopped the
server).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from fastscaffold.creation import NewOptions, new_project
from tests.helpers import wait_for_http
from tests.services import PostgresServer, serve_app

pytestmark = pytest.mark.e2e

PACKAGE = "shop_api"
NOTE_FIELD = "    note: Mapped[str | None] = mapped_column(String(50), default=None)\n"


@pytest.fixture(scope="module")
def template_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("database-e2e")
    options = NewOptions(name="shop-api", parent=parent, patterns=("streaming",))
    return new_project(options).destination


@pytest.fixture
def project(template_project: Path, tmp_path: Path) -> Path:
    """A fresh copy of a project with the streaming pattern (its `items` table)."""
    import shutil

    copy = tmp_path / "shop-api"
    shutil.copytree(template_project, copy)
    return copy


def _manage(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def _columns_and_count(url: str) -> tuple[set[str], int]:
    async def read() -> tuple[set[str], int]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(
                    lambda c: {column["name"] for column in inspect(c).get_columns("items")}
                )
                count = (await connection.execute(text("SELECT count(*) FROM items"))).scalar()
                return columns, int(count or 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


def test_a_changed_model_gets_a_revision_that_upgrades_a_populated_database(
    project: Path, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url}
    _manage(project, env, "migrate")
    _manage(project, env, "seed-items", "--rows", "250")
    models = project / PACKAGE / "streaming" / "models.py"
    text_ = models.read_text()
    anchor = "    created_at: Mapped[datetime] = mapped_column(DateTime())\n"
    models.write_text(text_.replace(anchor, anchor + NOTE_FIELD, 1))
    checked = subprocess.run(
        [sys.executable, "-m", PACKAGE, "migrate", "check"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 1 and "no revision holds" in checked.stderr
    _manage(project, env, "migrate", "revision", "-m", "add a note to items")
    (revision,) = [
        path for path in (project / PACKAGE / "migrations" / "versions").glob("*.py")
        if "add_a_note_to_items" in path.name
    ]  # fmt: skip
    source = revision.read_text()
    assert "op.add_column" in source and '"note"' in source
    assert "down_revision: str | Sequence[str] | None = 'database_0001'" in source or (
        'down_revision: str | Sequence[str] | None = "database_0001"' in source
    )
    assert "streaming_0001" in source  # it depends on the branch whose table it alters
    # The new revision meets the project's own bar: the post-write hooks ran ruff.
    for argv in (["ruff", "check", "--no-cache", str(revision)],
                 ["ruff", "format", "--check", "--no-cache", str(revision)]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _columns_and_count(database_url) == (
        {"id", "name", "category", "price_cents", "created_at"},
        250,
    )
    _manage(project, env, "migrate")
    columns, count = _columns_and_count(database_url)
    assert "note" in columns and count == 250
    _manage(project, env, "migrate", "check")
    _manage(project, env, "migrate", "downgrade", "app@-1")
    columns, count = _columns_and_count(database_url)
    assert "note" not in columns and count == 250


def test_four_workers_starting_at_once_on_an_empty_postgres_migrate_it_once(
    project: Path, postgres_server: PostgresServer
) -> None:
    for _ in range(3):
        url = postgres_server.new_database()
        with serve_app(project, workers=4, env={"DATABASE_URL": url}, timeout=90) as app:
            for _ in range(8):  # requests reach several workers: every one started
                status, _ = wait_for_http(f"{app.url}/exports/items.ndjson?limit=1")
                assert status == 200
            assert app.process.poll() is None
        name = url.rsplit("/", 1)[1]
        heads = postgres_server.psql("SELECT version_num FROM alembic_version ORDER BY 1", name)
        assert heads.split() == ["database_0001", "streaming_0001"]
