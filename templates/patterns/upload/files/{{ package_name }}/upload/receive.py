"""Receiving an upload as it streams in: never the whole file in memory, never past the limit.

The request body is read chunk by chunk from ``request.stream()``. A multipart
body goes through python-multipart's incremental parser; a raw body is the
file itself. Either way the file's bytes pass through a `FileSink`, which
counts them against the limit, lets the `Inspector` judge them, hashes them
and writes them to storage in batches of `BATCH_BYTES`. Any refusal happens
at the chunk that earns it, and deletes what was written.
"""

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .names import sanitize_filename
from .policy import FileType, Inspector, UnacceptableFile
from .storage import PendingUpload, Storage

BATCH_BYTES = 1024 * 1024
"""Bytes gathered before one write to storage (and one hash update), off the event loop."""

FORM_OVERHEAD_BYTES = 64 * 1024
"""Room in a multipart body for everything but the file: boundaries, headers, other fields."""

MAX_PARTS = 16
"""Most parts a multipart body may have."""

FILE_FIELD = "file"
"""The multipart field that carries the file."""


@dataclass(frozen=True)
class ReceivedFile:
    """A file received completely and committed to storage.

    Attributes:
        id: The file's id (a random hex uuid).
        key: Its storage key: the id and the server-chosen extension.
        filename: The sanitised display name.
        size: Its size in bytes.
        sha256: The hex SHA-256 of its bytes.
        file_type: Its type, judged by content.
    """

    id: str
    key: str
    filename: str
    size: int
    sha256: str
    file_type: FileType


class FileSink:
    """Takes one file's bytes in order: limits, inspects, hashes and stores them."""

    def __init__(
        self,
        storage: Storage,
        *,
        allowed: frozenset[str],
        max_bytes: int,
        filename: str | None,
        declared_type: str | None,
    ) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.filename = sanitize_filename(filename)
        # The extension judged is the one people will see: that of the cleaned name.
        self.inspector = Inspector(allowed, declared_type=declared_type, filename=self.filename)
        self.id = uuid.uuid4().hex
        self._hash = hashlib.sha256()
        self._batch = bytearray()
        self._upload: PendingUpload | None = None
        self._size = 0

    async def write(self, data: bytes) -> None:
        """Take the next bytes of the file."""
        self._size += len(data)
        if self._size > self.max_bytes:
            raise UnacceptableFile(413, f"The file is larger than {self.max_bytes} bytes.")
        self.inspector.feed(data)
        self._batch += data
        if len(self._batch) >= BATCH_BYTES:
            await self._flush()

    async def finish(self) -> ReceivedFile:
        """Check the file as a whole and write its last bytes; `commit` makes it visible."""
        file_type = self.inspector.finish()
        key = f"{self.id}{file_type.extension}"
        await self._flush(key)
        return ReceivedFile(
            id=self.id,
            key=key,
            filename=self.filename,
            size=self._size,
            sha256=self._hash.hexdigest(),
            file_type=file_type,
        )

    async def commit(self) -> None:
        """Make the finished file durable and visible under its key."""
        assert self._upload is not None
        await self._upload.commit()

    async def abort(self) -> None:
        """Delete whatever was written (nothing happens if nothing was)."""
        if self._upload is not None:
            await self._upload.abort()

    async def _flush(self, key: str | None = None) -> None:
        # Nothing is written before the type is known: a refused file never touches the disk.
        file_type = self.inspector.file_type
        if file_type is None:
            return
        if self._upload is None:
            self._upload = await self.storage.open_upload(key or f"{self.id}{file_type.extension}")
        batch = bytes(self._batch)
        self._batch.clear()
        if batch:
            # Hashing and writing both release the GIL: run them side by side.
            await anyio.to_thread.run_sync(self._hash.update, batch)
            await self._upload.write(batch)


async def receive_raw(body: AsyncIterator[bytes], sink: FileSink) -> ReceivedFile:
    """Receive a body that is the file itself (``PUT`` with any Content-Type); commit it."""
    try:
        async for chunk in body:
            if chunk:
                await sink.write(chunk)
        received = await sink.finish()
        await sink.commit()
        return received
    except BaseException:
        await sink.abort()
        raise


class SinkFactory:
    """Makes the `FileSink` for a file, given its name and declared type."""

    def __init__(self, storage: Storage, *, allowed: frozenset[str], max_bytes: int) -> None:
        self.storage = storage
        self.allowed = allowed
        self.max_bytes = max_bytes

    def __call__(self, filename: str | None, declared_type: str | None) -> FileSink:
        """Return a sink for one file."""
        return FileSink(
            self.storage,
            allowed=self.allowed,
            max_bytes=self.max_bytes,
            filename=filename,
            declared_type=declared_type,
        )


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.field = bytearray()
        self.value = bytearray()
        self.sink: FileSink | None = None


class MultipartReceiver:
    """Receives the `file` field of a ``multipart/form-data`` body, whatever its size.

    python-multipart's callbacks only record what they see; after each chunk
    the recorded events are handled here, where storage can be awaited.
    """

    def __init__(self, boundary: bytes, make_sink: SinkFactory) -> None:
        self.make_sink = make_sink
        self.events: list[tuple[str, bytes]] = []
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self.events.append(("begin", b"")),
                "on_header_field": lambda d, s, e: self.events.append(("field", d[s:e])),
                "on_header_value": lambda d, s, e: self.events.append(("value", d[s:e])),
                "on_header_end": lambda: self.events.append(("header_end", b"")),
                "on_headers_finished": lambda: self.events.append(("headers_done", b"")),
                "on_part_data": lambda d, s, e: self.events.append(("data", d[s:e])),
                "on_part_end": lambda: self.events.append(("end", b"")),
                "on_end": lambda: self.events.append(("finished", b"")),
            },
        )
        self.part = _Part()
        self.parts = 0
        self.other_bytes = 0
        self.finished = False
        self.sink: FileSink | None = None
        self.received: ReceivedFile | None = None

    async def receive(self, body: AsyncIterator[bytes], *, max_body_bytes: int) -> ReceivedFile:
        """Parse ``body`` to its end; commit the file and describe it.

        More than ``max_body_bytes`` in all is refused with 413 as soon as it arrives.
        """
        received = 0
        try:
            async for chunk in body:
                received += len(chunk)
                if received > max_body_bytes:
                    raise UnacceptableFile(
                        413, f"The request body is larger than {max_body_bytes} bytes."
                    )
                try:
                    self.parser.write(chunk)
                except MultipartParseError as exc:
                    raise UnacceptableFile(400, "The multipart body is malformed.") from exc
                await self._handle_events()
                if self.finished:
                    break
            if not self.finished:
                raise UnacceptableFile(400, "The multipart body ended before its closing boundary.")
            if self.sink is None or self.received is None:
                raise UnacceptableFile(422, f"The form has no `{FILE_FIELD}` field with a file.")
            await self.sink.commit()
            return self.received
        except BaseException:
            if self.sink is not None:
                await self.sink.abort()
            raise

    async def _handle_events(self) -> None:
        events, self.events = self.events, []
        for kind, data in events:
            if kind == "data":
                await self._data(data)
            elif kind == "begin":
                self.parts += 1
                if self.parts > MAX_PARTS:
                    raise UnacceptableFile(400, f"The form has more than {MAX_PARTS} parts.")
                self.part = _Part()
            elif kind == "field":
                self.part.field += data
            elif kind == "value":
                self.part.value += data
            elif kind == "header_end":
                name = self.part.field.decode("latin-1").strip().lower()
                self.part.headers[name] = self.part.value.decode("latin-1").strip()
                self.part.field.clear()
                self.part.value.clear()
            elif kind == "headers_done":
                self._start_part()
            elif kind == "end":
                if self.part.sink is not None:
                    self.received = await self.part.sink.finish()
            elif kind == "finished":
                self.finished = True

    def _start_part(self) -> None:
        disposition, options = parse_options_header(self.part.headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise UnacceptableFile(400, "A multipart part lacks `Content-Disposition: form-data`.")
        name = options[b"name"].decode("utf-8", "replace")
        if name != FILE_FIELD:
            return
        if b"filename" not in options:
            raise UnacceptableFile(422, f"The `{FILE_FIELD}` field must be a file.")
        if self.sink is not None:
            raise UnacceptableFile(400, f"Send one file per request in the `{FILE_FIELD}` field.")
        # Browsers send the file name as raw UTF-8 bytes (parsed as latin-1 above).
        filename = options[b"filename"].decode("utf-8", "replace")
        self.sink = self.part.sink = self.make_sink(filename, self.part.headers.get("content-type"))

    async def _data(self, data: bytes) -> None:
        if self.part.sink is not None:
            await self.part.sink.write(data)
            return
        self.other_bytes += len(data)
        if self.other_bytes > FORM_OVERHEAD_BYTES // 2:
            raise UnacceptableFile(413, "The form's other fields are too large.")


def multipart_boundary(content_type: str | None) -> bytes:
    """Return the boundary of a ``multipart/form-data`` Content-Type, or raise 415."""
    media, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if media != b"multipart/form-data" or not boundary:
        raise UnacceptableFile(
            415, f"Send the file as multipart/form-data, in a field named `{FILE_FIELD}`."
        )
    if len(boundary) > 200:
        raise UnacceptableFile(400, "The multipart boundary is too long.")
    return boundary
