"""Start-up of the upload pattern and the dependencies its endpoints use.

`get_owner` is the hook for authentication: it returns None, so every caller
is the same anonymous owner. Make it return the authenticated user's id (or
raise 401) and every file is then listed, downloaded and deleted by its owner
only.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, Request

from .settings import UploadSettings
from .storage import LocalStorage, Storage


def create_storage(settings: UploadSettings) -> Storage:
    """Return the storage the settings describe (the local disk; add S3 here)."""
    return LocalStorage(settings.upload_dir)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Read the settings and prepare the storage folder before the first request."""
    settings = UploadSettings()
    storage = create_storage(settings)
    if isinstance(storage, LocalStorage):
        await anyio.to_thread.run_sync(storage.start)
    app.state.upload_settings = settings
    app.state.upload_storage = storage
    yield


def get_upload_settings(request: Request) -> UploadSettings:
    """Return the settings read at start-up (a FastAPI dependency)."""
    settings: UploadSettings = request.app.state.upload_settings
    return settings


def get_storage(request: Request) -> Storage:
    """Return the app's storage (a FastAPI dependency)."""
    storage: Storage = request.app.state.upload_storage
    return storage


async def get_owner(request: Request) -> str | None:
    """Return who is calling, for the files' `owner` column: replace with your authentication.

    Returns None (anonymous) until then. Tests and apps can also swap it with
    `app.dependency_overrides[get_owner]`.
    """
    del request
    return None


UploadSettingsDep = Annotated[UploadSettings, Depends(get_upload_settings)]
StorageDep = Annotated[Storage, Depends(get_storage)]
OwnerDep = Annotated[str | None, Depends(get_owner)]
