"""Start-up of the upload pattern and the dependencies its endpoints use.

`get_owner` is the hook for authentication: it returns None, so every caller
is the same anonymous owner. Make it return the authenticated user's id (or
raise 401) and every file is then listed, downloaded and deleted by its owner
only.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import UploadedFile
from .pacing import UploadSlots
from .settings import UploadSettings
from .storage import LocalStorage, Storage

logger = logging.getLogger(__name__)


def create_storage(settings: UploadSettings) -> Storage:
    """Return the storage the settings describe (the local disk; add S3 here)."""
    return LocalStorage(settings.upload_dir)


async def other_storages(engine: AsyncEngine, storage: Storage) -> list[str]:
    """Return the ids of storages other than ``storage`` that hold files of this database."""
    query = (
        select(UploadedFile.storage_id)
        .where(UploadedFile.storage_id.is_not(None), UploadedFile.storage_id != storage.storage_id)
        .distinct()
        .limit(5)
    )
    async with engine.connect() as connection:
        return [str(row[0]) for row in await connection.execute(query)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Read the settings, prepare the storage, and check it is the one the database uses.

    Servers that share a database (PostgreSQL) must share the bytes too. When
    the database lists files kept in another storage, this server cannot
    serve them: it says so at start-up (and refuses to start with
    ``UPLOAD_REQUIRE_SHARED_STORAGE=true``), and answers 503 for those files.
    """
    settings = UploadSettings()
    storage = create_storage(settings)
    if isinstance(storage, LocalStorage):
        await anyio.to_thread.run_sync(storage.start)
    others = await other_storages(app.state.db_engine, storage)
    if others:
        message = (
            f"This server's upload storage ({settings.upload_dir}, id {storage.storage_id}) "
            f"is not the one other servers of this database use (ids {', '.join(others)}): "
            "their files cannot be served here. Give every server the same UPLOAD_DIR (a "
            "shared volume) or object storage; if you moved the folder, copy its .storage-id."
        )
        if settings.upload_require_shared_storage:
            raise RuntimeError(message)
        logger.error(message)
    app.state.upload_settings = settings
    app.state.upload_storage = storage
    app.state.upload_slots = UploadSlots(settings.upload_max_concurrent)
    yield


def get_upload_settings(request: Request) -> UploadSettings:
    """Return the settings read at start-up (a FastAPI dependency)."""
    settings: UploadSettings = request.app.state.upload_settings
    return settings


def get_storage(request: Request) -> Storage:
    """Return the app's storage (a FastAPI dependency)."""
    storage: Storage = request.app.state.upload_storage
    return storage


def get_slots(request: Request) -> UploadSlots:
    """Return the app's upload slots, which cap the uploads in progress (a FastAPI dependency)."""
    slots: UploadSlots = request.app.state.upload_slots
    return slots


async def get_owner(request: Request) -> str | None:
    """Return who is calling, for the files' `owner` column: replace with your authentication.

    Returns None (anonymous) until then. Tests and apps can also swap it with
    `app.dependency_overrides[get_owner]`.
    """
    del request
    return None


UploadSettingsDep = Annotated[UploadSettings, Depends(get_upload_settings)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SlotsDep = Annotated[UploadSlots, Depends(get_slots)]
OwnerDep = Annotated[str | None, Depends(get_owner)]
