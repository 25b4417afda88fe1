"""Which files are accepted: types judged by their content, never by the client's word.

Each accepted type has a signature (sniffed with the pure-Python `filetype`
library, no system libmagic), the extension the server stores it under, the
extensions and declared types a client may use for it, and cheap structural
checks of its first and last bytes. Anything else, and anything that looks
like active content (HTML, SVG, scripts, PDF JavaScript or launch actions)
anywhere in the file, is refused with 415 (`scan.py` says exactly what is
looked for).

Signature and structure checks narrow what gets through; they do not prove a
file harmless (OWASP: do not rely on them alone). The real protection is how
files are stored and served: server-chosen names and extensions, a folder no
static mount serves, and downloads as attachments with `nosniff`. If you show
uploaded images inline, re-encode them first (e.g. with Pillow, under a pixel
limit) to strip anything hidden in them.
"""

import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import filetype  # type: ignore[import-untyped]

from ..errors import bounded
from .scan import (
    ACTIVE_CONTENT,
    ACTIVE_CONTENT_LONGEST,
    Piece,
    StreamSearch,
    decode_pdf_name,
    pdf_names,
)

SNIFF_BYTES = 8192
"""Bytes looked at to identify the type: it is decided once this many have arrived."""

TAIL_BYTES = 1024
"""Trailing bytes kept to check how the file ends."""

SCAN_SLICE_BYTES = 64 * 1024
"""Most bytes one search call looks at: it holds the GIL, so this bounds each wait it causes."""

MAX_IMAGE_PIXELS = 89_478_485
"""Images declaring more pixels than this are refused (Pillow's decompression-bomb threshold)."""

GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""Declared types that say nothing about the content, so never disagree with it."""

Check = Callable[[bytes], str | None]
"""A structural check: returns what is wrong, or None."""

TailCheck = Callable[[bytes, int], str | None]
"""A check of the last bytes (and the total size): returns what is wrong, or None."""


class UnacceptableFile(Exception):
    """The upload cannot be accepted; `status` is the HTTP status that says why."""

    def __init__(
        self, status: int, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def _no_check(_data: bytes) -> str | None:
    return None


def _no_tail_check(_tail: bytes, _size: int) -> str | None:
    return None


@dataclass(frozen=True)
class FileType:
    """One type the service can accept.

    Attributes:
        mime: The media type, as stored and served.
        extension: The extension the server stores and names it with.
        extensions: Extensions a client's file name may have for it.
        aliases: Other declared media types that mean the same.
        check_head: Structural check of the first bytes.
        check_tail: Structural check of the last bytes and the size.
        forbidden_names: PDF names that must not occur anywhere in the file
            (matched as a PDF reader reads them, ``#xx`` escapes decoded).
    """

    mime: str
    extension: str
    extensions: frozenset[str]
    aliases: frozenset[str] = frozenset()
    check_head: Check = _no_check
    check_tail: TailCheck = _no_tail_check
    forbidden_names: tuple[str, ...] = ()


def _pixels(width: int, height: int) -> str | None:
    if width == 0 or height == 0:
        return "the image has no pixels"
    if width * height > MAX_IMAGE_PIXELS:
        return f"the image declares {width}x{height} pixels, more than {MAX_IMAGE_PIXELS}"
    return None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png_head(head: bytes) -> str | None:
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return "a PNG must start with its signature and IHDR chunk"
    width, height = struct.unpack(">II", head[16:24])
    return _pixels(width, height)


def _png_tail(tail: bytes, _size: int) -> str | None:
    if not tail.endswith(_PNG_END):
        return "a PNG must end with its IEND chunk (nothing may follow it)"
    return None


def _jpeg_head(head: bytes) -> str | None:
    if not head.startswith(b"\xff\xd8\xff"):
        return "a JPEG must start with its SOI marker"
    return None


def _jpeg_tail(tail: bytes, _size: int) -> str | None:
    if not tail.endswith(b"\xff\xd9"):
        return "a JPEG must end with its EOI marker (nothing may follow it)"
    return None


def _gif_head(head: bytes) -> str | None:
    if len(head) < 10 or head[:6] not in {b"GIF87a", b"GIF89a"}:
        return "a GIF must start with GIF87a or GIF89a and its screen size"
    width, height = struct.unpack("<HH", head[6:10])
    return _pixels(width, height)


def _gif_tail(tail: bytes, _size: int) -> str | None:
    if not tail.endswith(b";"):
        return "a GIF must end with its trailer byte (nothing may follow it)"
    return None


def _webp_head(head: bytes) -> str | None:
    if len(head) < 16 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return "a WebP must start with a RIFF header of type WEBP"
    return None


def _webp_tail(_tail: bytes, _size: int) -> str | None:
    # The RIFF header's size field is checked against the real size by `Inspector.finish`.
    return None


def _pdf_head(head: bytes) -> str | None:
    if not re.match(rb"%PDF-[12]\.\d", head):
        return "a PDF must start with a %PDF-1.x or %PDF-2.x header"
    return None


def _pdf_tail(tail: bytes, _size: int) -> str | None:
    if b"%%EOF" not in tail:
        return "a PDF must end with an %%EOF marker"
    return None


KNOWN_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        FileType(
            "image/jpeg",
            ".jpg",
            frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
            frozenset({"image/jpg", "image/pjpeg"}),
            _jpeg_head,
            _jpeg_tail,
        ),
        FileType(
            "image/png",
            ".png",
            frozenset({".png"}),
            frozenset({"image/x-png"}),
            _png_head,
            _png_tail,
        ),
        FileType("image/gif", ".gif", frozenset({".gif"}), frozenset(), _gif_head, _gif_tail),
        FileType("image/webp", ".webp", frozenset({".webp"}), frozenset(), _webp_head, _webp_tail),
        FileType(
            "application/pdf",
            ".pdf",
            frozenset({".pdf"}),
            frozenset({"application/x-pdf"}),
            _pdf_head,
            _pdf_tail,
            # Scripts and launch actions make a PDF active content in most viewers.
            forbidden_names=("JavaScript", "Launch"),
        ),
    )
}
"""Every type the service knows how to check; UPLOAD_ALLOWED_TYPES picks among them."""


def media_type(declared: str | None) -> str:
    """Return the bare, lower-case media type of a Content-Type value ("" when absent)."""
    return (declared or "").split(";", 1)[0].strip().lower()


def suffix_of(filename: str) -> str:
    """Return the last extension of a file name, lower-case with its dot ("" when none)."""
    stem, dot, extension = filename.rpartition(".")
    return f".{extension.lower()}" if dot and stem.strip(". ") and extension else ""


class Inspector:
    """Judges one file from its bytes as they stream in; raises `UnacceptableFile` early.

    The work is split in two, so that the costly half can go a slice at a time
    with turns for other tasks in between (see `FileSink`): `observe` takes
    every chunk as it arrives and decides the type as soon as
    `SNIFF_BYTES` have arrived (a file of the wrong type is refused after its
    first chunk, not after its last); `scan` searches bytes for active content
    (and, in a PDF, for forbidden names), in order, once the type is known, and
    `conclude` checks the end. Every byte is searched once, plus a seam of a
    few bytes per slice: the work per byte is bounded however the file is cut
    up. `feed` and `finish` do all of it in one place, for callers that want
    no split.
    """

    def __init__(
        self, allowed: frozenset[str], *, declared_type: str | None, filename: str
    ) -> None:
        self.allowed = allowed
        self.declared_type = media_type(declared_type)
        self.filename = filename
        self.file_type: FileType | None = None
        self.size = 0
        self._head = bytearray()
        self._tail = bytearray()
        self._unscanned = bytearray()
        self._active = StreamSearch(ACTIVE_CONTENT, longest=ACTIVE_CONTENT_LONGEST)
        self._names: StreamSearch | None = None

    @property
    def bytes_searched(self) -> int:
        """Bytes a full pattern search went through (not just the memchr that skips most)."""
        names = self._names.searched if self._names is not None else 0
        return self._active.searched + names

    @property
    def bytes_scanned(self) -> int:
        """Bytes searched for markers so far, seams included: the inspection's work."""
        names = self._names.scanned if self._names is not None else 0
        return self._active.scanned + names

    def feed(self, data: Piece) -> None:
        """Look at the next bytes of the file: `observe` them and `scan` them."""
        self.observe(data)
        if self.file_type is None:
            self._unscanned += data  # the head, scanned once its type is known
            return
        if self._unscanned:
            self.scan(bytes(self._unscanned))
            self._unscanned.clear()
        self.scan(data)

    def finish(self) -> FileType:
        """Return the file's type once every byte was fed, or raise why it is refused."""
        self.decide()
        if self._unscanned:
            self.scan(bytes(self._unscanned))
            self._unscanned.clear()
        return self.conclude()

    def observe(self, data: Piece) -> None:
        """Take the next bytes as they arrive: count them, keep the head and the tail.

        Cheap (a copy of at most `SNIFF_BYTES` and `TAIL_BYTES`), so it runs on
        the event loop, chunk by chunk; it refuses a wrong type at once.
        """
        self.size += len(data)
        if self.file_type is None:
            self._head += data[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._decide()
        self._tail += data[-TAIL_BYTES:]
        if len(self._tail) > 2 * TAIL_BYTES:  # trimmed now and then: constant work per byte
            del self._tail[:-TAIL_BYTES]

    def decide(self) -> FileType:
        """Return the type, deciding it from what arrived if that was less than the head."""
        if self.size == 0:
            raise UnacceptableFile(422, "The file is empty.")
        if self.file_type is None:
            self._decide()  # A small file: the head is all of it.
        assert self.file_type is not None
        return self.file_type

    def scan(self, data: Piece, start: int = 0, end: int | None = None) -> None:
        """Search ``data[start:end]``, the next bytes in the file's order, for active content.

        Call it for every byte, once the type is decided (`observe` or
        `decide`). It holds the GIL while it searches, so the search goes in
        slices of `SCAN_SLICE_BYTES`, and a caller on the event loop passes one
        slice at a time (see `bytes_searched`) to let other tasks run between them.
        """
        if self.file_type is None:
            raise RuntimeError("scan() needs the type: observe() the head or decide() first")
        if isinstance(data, memoryview):
            data = bytes(data)  # searched by position below, which needs bytes
        end = len(data) if end is None else min(end, len(data))
        for first in range(start, end, SCAN_SLICE_BYTES):
            last = min(first + SCAN_SLICE_BYTES, end)
            if self._active.feed(data, first, last) is not None:
                raise UnacceptableFile(415, "The file contains active content (HTML or script).")
            if self._names is not None:
                self._search_names(data, first, last)

    def conclude(self) -> FileType:
        """Check how the file ends, once every byte was scanned; return its type."""
        file_type = self.decide()
        # The end of the file ends a name too (as a delimiter would).
        self._search_names(b"\n")
        tail = bytes(self._tail[-TAIL_BYTES:])
        problem = file_type.check_tail(tail, self.size)
        if problem is None and file_type.mime == "image/webp":
            declared_size = struct.unpack("<I", bytes(self._head[4:8]))[0] + 8
            if declared_size != self.size:
                problem = "the WebP's RIFF size does not match the file's size"
        if problem is not None:
            raise UnacceptableFile(415, f"The file is not a valid {file_type.mime}: {problem}.")
        return file_type

    def _decide(self) -> None:
        head = bytes(self._head)
        detected = filetype.guess_mime(head)
        if not isinstance(detected, str) or detected not in self.allowed:
            allowed = ", ".join(sorted(self.allowed))
            raise UnacceptableFile(
                415, f"The file's content is not of an accepted type (accepted: {allowed})."
            )
        file_type = KNOWN_TYPES[detected]
        declared = self.declared_type
        if declared not in GENERIC_TYPES and declared not in {file_type.mime, *file_type.aliases}:
            raise UnacceptableFile(
                415,
                f"The file was declared as {bounded(declared)} but its content is "
                f"{file_type.mime}.",
            )
        extension = suffix_of(self.filename)
        if extension and extension not in file_type.extensions:
            raise UnacceptableFile(
                415,
                f"The file name ends in {bounded(extension)!r} but its content is "
                f"{file_type.mime} (expected {', '.join(sorted(file_type.extensions))}).",
            )
        problem = file_type.check_head(head)
        if problem is not None:
            raise UnacceptableFile(415, f"The file is not a valid {file_type.mime}: {problem}.")
        self.file_type = file_type
        if file_type.forbidden_names:
            pattern, longest = pdf_names(file_type.forbidden_names)
            self._names = StreamSearch((pattern,), longest=longest)

    def _search_names(self, data: Piece, start: int = 0, end: int | None = None) -> None:
        if self._names is None or self.file_type is None:
            return
        found = self._names.feed(data, start, end)
        if found is not None:
            name = decode_pdf_name(found.group()[:-1])
            raise UnacceptableFile(
                415, f"The {self.file_type.mime} contains active content ({name})."
            )
