"""Where uploaded bytes live: a small storage interface and its local-disk implementation.

The interface is shaped for object stores too. An upload is opened under a key
the server chose, written in batches, then committed (made visible at once)
or aborted (nothing left behind). An S3-compatible backend maps this onto a
multipart upload: `open_upload` creates it, `write` uploads parts (it runs in a
worker thread, so a blocking client such as boto3 fits; S3 wants at least 5 MiB
per part, so copy the pieces into a buffer there), `commit` completes it and
`abort` aborts it; `read` streams a GET and `delete` deletes the object. Implement
`Storage` and return it from `create_storage` in `deps.py`.
"""

import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio.to_thread

from .scan import Piece

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1024 * 1024
"""Size of the pieces a download is streamed in."""

STALE_PART_SECONDS = 3600
"""Unfinished uploads older than this are deleted at start-up (left by a crash)."""

_MAX_IOVECS = 512
"""Most pieces one writev call is given (Linux takes up to 1024)."""

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(?:\.[a-z0-9]{1,8})?$")
_PART_SUFFIX = ".part"
ID_FILE = ".storage-id"
"""The file that names a storage folder (copy it along if you move the folder)."""


class PendingUpload(Protocol):
    """An upload being written: invisible until `commit`, gone after `abort`."""

    def write(self, pieces: Sequence[Piece]) -> None:
        """Append ``pieces``, in order (copy what must outlive the call: they are reused).

        Called in a worker thread, never on the event loop, so it may block (a disk
        write, a blocking HTTP client such as boto3's).
        """

    async def commit(self) -> None:
        """Make the bytes written so far durable and visible under the key."""

    async def abort(self) -> None:
        """Discard everything written (safe to call more than once, and after `commit` fails)."""


class Storage(Protocol):
    """A place to keep uploaded files, addressed by server-chosen keys.

    ``storage_id`` names the place: every server that can read the same
    files has the same one (an object store's bucket, a shared volume), and
    two servers with different ones cannot read each other's files.
    """

    storage_id: str

    async def open_upload(self, key: str) -> PendingUpload:
        """Start writing the object ``key``."""

    def read(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object ``key``; raises FileNotFoundError when it does not exist."""

    async def exists(self, key: str) -> bool:
        """Tell whether the object ``key`` exists."""

    async def delete(self, key: str) -> None:
        """Delete the object ``key``, if it exists."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a server-generated key (letters, digits, ``-_``, one extension).

    Keys never come from clients; the check makes sure that stays true, so no
    key can name a path outside the storage folder.
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not a storage key")
    return key


class _LocalUpload:
    def __init__(self, file: BinaryIO, temporary: Path, final: Path) -> None:
        self._file = file
        self._temporary = temporary
        self._final = final

    def write(self, pieces: Sequence[Piece]) -> None:
        descriptor = self._file.fileno()
        views = [memoryview(piece) for piece in pieces]
        if not hasattr(os, "writev"):  # Windows
            for view in views:
                while view:  # a write may take fewer bytes than it was given
                    view = view[os.write(descriptor, view) :]
            return
        while views:  # one system call for the batch, unless it takes fewer bytes
            written = os.writev(descriptor, views[:_MAX_IOVECS])
            while views and written >= len(views[0]):
                written -= len(views.pop(0))
            if written:
                views[0] = views[0][written:]

    async def commit(self) -> None:
        await anyio.to_thread.run_sync(self._commit)

    def _commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())  # the bytes reach the disk before the name does
        self._file.close()
        self._temporary.replace(self._final)  # atomic: whole file or none

    async def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


class LocalStorage:
    """Files in one folder on the local disk, private to the service's user.

    The folder is created with mode 0700 and files with 0600. Uploads are
    written to a hidden ``.<key>.part`` file in the same folder and renamed
    into place, so a reader never sees half a file and a crash leaves only
    parts, which `start` removes once they are stale.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.storage_id = ""

    def start(self) -> None:
        """Create the folder, learn its id, and remove unfinished uploads left by a crash.

        The id lives in the folder itself (``.storage-id``, made once, by
        whichever server gets there first), so servers that share the folder
        share the id, and servers with folders of their own do not.
        """
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.storage_id = _folder_id(self.folder / ID_FILE)
        cutoff = time.time() - STALE_PART_SECONDS
        for part in self.folder.glob(f".*{_PART_SUFFIX}"):
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    logger.info("Removed an unfinished upload: %s", part.name)

    def path(self, key: str) -> Path:
        """Return the path of the object ``key``."""
        return self.folder / check_key(key)

    async def open_upload(self, key: str) -> PendingUpload:
        """Create ``.<key>.part`` (mode 0600, never an existing file) to write into."""
        final = self.path(key)
        temporary = self.folder / f".{key}{_PART_SUFFIX}"

        def create() -> BinaryIO:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            descriptor = os.open(temporary, flags, 0o600)
            return os.fdopen(descriptor, "wb", buffering=0)

        file = await anyio.to_thread.run_sync(create)
        return _LocalUpload(file, temporary, final)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Stream the file in `READ_CHUNK_BYTES` pieces (opened before the first piece)."""
        file = await anyio.to_thread.run_sync(self.path(key).open, "rb")
        try:
            while chunk := await anyio.to_thread.run_sync(file.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            file.close()

    async def exists(self, key: str) -> bool:
        """Tell whether the file exists."""
        return await anyio.to_thread.run_sync(self.path(key).is_file)

    async def delete(self, key: str) -> None:
        """Delete the file, if it exists."""
        await anyio.to_thread.run_sync(lambda: self.path(key).unlink(missing_ok=True))


def _folder_id(path: Path) -> str:
    """Return the id in ``path``, writing a new random one first if there is none."""
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f"{uuid.uuid4().hex}\n")
    for _ in range(50):  # another server may be writing it this very moment
        found = path.read_text().strip()
        if found:
            return found
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it and start again")
