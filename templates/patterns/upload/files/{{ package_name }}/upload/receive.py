"""Receiving an upload as it streams in: never the whole file in memory, never past the limit.

The request body is read chunk by chunk from ``request.stream()``. A multipart
body goes through python-multipart's incremental parser; a raw body is the
file itself. Either way the file's bytes pass through a `FileSink`, which,
on the event loop and as they arrive, counts them against the limit, hashes
them, lets the `Inspector` judge the head and search every byte for active
content (a slice at a time, letting other tasks run after any slice that
needed a full search), then hands them over in batches of `BATCH_BYTES` to a
worker thread that writes them, one trip per batch, while the loop receives
the next batch. Any refusal happens at the chunk that earns it (pieces under
`COPY_BELOW_BYTES` are searched together, so within that many bytes of it),
before that chunk is written, and deletes what was.
"""

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import TaskGroup
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .names import sanitize_filename
from .policy import SCAN_SLICE_BYTES, FileType, Inspector, UnacceptableFile
from .scan import Piece
from .storage import PendingUpload, Storage

BATCH_BYTES = 1024 * 1024
"""Bytes gathered before they are handed to the worker thread that writes them, at once."""

COPY_BELOW_BYTES = 16 * 1024
"""Pieces smaller than this are copied together; larger ones are kept as they came (no copy)."""

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


@asynccontextmanager
async def background_tasks() -> AsyncIterator[TaskGroup]:
    """Yield a task group for a sink's background work; its exceptions come out as themselves.

    A sink's background tasks never raise (they keep their failure for the
    sink to raise in the request's own task), so all the group can hold is the
    one exception of the block: it is raised as it is, for the callers'
    ``except UnacceptableFile`` to see, not wrapped in an ExceptionGroup.
    """
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as failures:
        if len(failures.exceptions) != 1:
            raise
        raise failures.exceptions[0] from None


class FileSink:
    """Takes one file's bytes in order: limits, inspects, hashes and stores them.

    Call `start` with the task group of `background_tasks` before the first
    `write`; leave that group before `commit` or `abort`, so that no batch is
    still being written. One batch is processed in the background while the
    next is gathered: at most two are held, whatever the file's size.
    """

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
        self._pieces: list[Piece] = []
        self._unscanned: list[Piece] = []
        self._small = bytearray()
        self._searched_at_turn = 0
        self._gathered = 0
        self._upload: PendingUpload | None = None
        self._size = 0
        self._group: TaskGroup | None = None
        self._processing: list[anyio.Event] = []
        self._failure: Exception | None = None

    def start(self, group: TaskGroup) -> None:
        """Process batches in the background of ``group`` from now on."""
        self._group = group

    async def write(self, data: Piece) -> None:
        """Take the next bytes of the file (kept, not copied, until their batch is written)."""
        self._size += len(data)
        if self._size > self.max_bytes:
            raise UnacceptableFile(413, f"The file is larger than {self.max_bytes} bytes.")
        self.inspector.observe(data)
        # Hashed here, on the loop, as each piece arrives: a piece is what the server read
        # at once (uvicorn: a few hundred KiB at most, well under a millisecond of SHA-256).
        # Measured with curl on two cores, uploads ran a quarter faster than with the hash
        # in the writer's thread, which competed with the receiving at every batch.
        self._hash.update(data)
        if len(data) >= COPY_BELOW_BYTES:
            self._flush_small()
            self._unscanned.append(data)
        else:
            # Tiny pieces (a client sending a few bytes per segment) are searched together:
            # a search per piece would cost its fixed overhead per few bytes.
            self._small += data
        if self.inspector.file_type is not None and (
            self._unscanned or len(self._small) >= COPY_BELOW_BYTES
        ):
            await self._scan_unscanned()
        if len(data) >= COPY_BELOW_BYTES:
            self._pieces.append(data)
        elif self._pieces and isinstance(self._pieces[-1], bytearray):
            self._pieces[-1] += data
        else:
            self._pieces.append(bytearray(data))
        self._gathered += len(data)
        # Nothing is written before the type is known: a refused file never touches the disk.
        if self._gathered >= BATCH_BYTES and self.inspector.file_type is not None:
            await self._submit()

    async def finish(self) -> ReceivedFile:
        """Check the file as a whole and write its last bytes; `commit` makes it visible."""
        file_type = self.inspector.decide()
        key = f"{self.id}{file_type.extension}"
        await self._submit()
        await self._wait()
        self.inspector.conclude()
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

    async def _scan_unscanned(self) -> None:
        # The scan runs here, on the event loop, as the bytes arrive: it holds the GIL
        # anyway (a regex search), so a worker thread would only add hand-overs. It goes a
        # slice at a time; once a slice's worth of bytes needed a full search (a memchr
        # found a candidate byte), the loop gets a turn, so even a hostile body never
        # holds it for longer than about two slices take.
        self._flush_small()
        pieces, self._unscanned = self._unscanned, []
        inspector = self.inspector
        for piece in pieces:
            data = bytes(piece) if isinstance(piece, memoryview) else piece
            for start in range(0, len(data), SCAN_SLICE_BYTES):
                inspector.scan(data, start, start + SCAN_SLICE_BYTES)
                if inspector.bytes_searched - self._searched_at_turn >= SCAN_SLICE_BYTES:
                    self._searched_at_turn = inspector.bytes_searched
                    await anyio.lowlevel.checkpoint()

    def _flush_small(self) -> None:
        if self._small:
            self._unscanned.append(bytes(self._small))
            self._small.clear()

    async def _submit(self) -> None:
        # Called only once the type is known, which names the file. Every byte of the
        # batch is searched before any of it is written.
        file_type = self.inspector.decide()
        await self._scan_unscanned()
        pieces, self._pieces, self._gathered = self._pieces, [], 0
        await self._wait()  # one batch in the background at a time: memory stays bounded
        if self._upload is None:
            self._upload = await self.storage.open_upload(f"{self.id}{file_type.extension}")
        if not pieces:
            return
        if self._group is None:
            raise RuntimeError("FileSink.start() was not called")
        self._processing = [anyio.Event()]
        self._group.start_soon(self._process, self._upload, pieces, self._processing[0])

    async def _wait(self) -> None:
        for processed in self._processing:
            await processed.wait()
        if self._failure is not None:
            raise self._failure

    async def _process(
        self, upload: PendingUpload, pieces: Sequence[Piece], done: anyio.Event
    ) -> None:
        # One trip to a worker thread per batch: each trip costs a thread wake-up and two
        # hand-overs of the GIL, which on a busy machine cost more than the work itself.
        # The write releases the GIL (and may block on a slow disk or an object store):
        # the loop receives the next batch meanwhile.
        try:
            await anyio.to_thread.run_sync(upload.write, pieces)
        except Exception as exc:  # raised in the request's task, by the next `_wait`
            self._failure = self._failure or exc
        finally:
            done.set()


async def receive_raw(body: AsyncIterator[bytes], sink: FileSink) -> ReceivedFile:
    """Receive a body that is the file itself (``PUT`` with any Content-Type); commit it."""
    try:
        async with background_tasks() as group:
            sink.start(group)
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
        self.events: list[tuple[str, Piece]] = []
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self.events.append(("begin", b"")),
                "on_header_field": lambda d, s, e: self.events.append(("field", d[s:e])),
                "on_header_value": lambda d, s, e: self.events.append(("value", d[s:e])),
                "on_header_end": lambda: self.events.append(("header_end", b"")),
                "on_headers_finished": lambda: self.events.append(("headers_done", b"")),
                "on_part_data": lambda d, s, e: self.events.append(("data", _view(d, s, e))),
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
        self.group: TaskGroup | None = None

    async def receive(self, body: AsyncIterator[bytes], *, max_body_bytes: int) -> ReceivedFile:
        """Parse ``body`` to its end; commit the file and describe it.

        More than ``max_body_bytes`` in all is refused with 413 as soon as it arrives.
        """
        try:
            async with background_tasks() as group:
                self.group = group
                await self._parse(body, max_body_bytes)
            if self.sink is None or self.received is None:
                raise UnacceptableFile(422, f"The form has no `{FILE_FIELD}` field with a file.")
            await self.sink.commit()
            return self.received
        except BaseException:
            if self.sink is not None:
                await self.sink.abort()
            raise

    async def _parse(self, body: AsyncIterator[bytes], max_body_bytes: int) -> None:
        received = 0
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
                return
        raise UnacceptableFile(400, "The multipart body ended before its closing boundary.")

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
        assert self.group is not None
        self.sink.start(self.group)

    async def _data(self, data: Piece) -> None:
        if self.part.sink is not None:
            await self.part.sink.write(data)
            return
        self.other_bytes += len(data)
        if self.other_bytes > FORM_OVERHEAD_BYTES // 2:
            raise UnacceptableFile(413, "The form's other fields are too large.")


def _view(data: bytes, start: int, end: int) -> Piece:
    # The file's bytes as the chunk itself (most of a large file) or a view of it, not a
    # copy (the chunk is immutable bytes); python-multipart's own buffer is copied.
    if not isinstance(data, bytes):
        return bytes(data[start:end])
    return data if start == 0 and end == len(data) else memoryview(data)[start:end]


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
