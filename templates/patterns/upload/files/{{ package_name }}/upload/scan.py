"""Searching the whole of an upload for markers, in linear time and bounded memory.

A marker can straddle two chunks, so each chunk is searched twice: alone, and
joined to the end of the previous one (the seam). Only the last `longest - 1`
bytes of the stream are kept between chunks, where `longest` is the longest
match a pattern can have, so every byte is looked at a bounded number of
times however the body is cut, even into 1-byte chunks, and nothing is ever
searched again from the start.

The markers themselves:

- `ACTIVE_CONTENT`, for every type: an HTML or SVG tag that a browser would
  run or render (`<script`, `<html`, `<svg`, `<body`, `<iframe`, `<object`,
  `<embed`, `<!doctype`, any case, followed by a space, tab, line break, `/`
  or `>`), a PHP opening tag (`<?php` and a space) and the `javascript:` URL
  scheme, any case.
- `pdf_names`, for PDFs: names such as `/JavaScript`, with each character also
  matched as its `#xx` escape (`/Java#53cript` is the same name) and ending at a
  PDF delimiter, as a PDF reader reads them.
"""

import functools
import re
from collections.abc import Sequence

Piece = bytes | bytearray | memoryview
"""Bytes as they are passed around without copying: a chunk, a slice of one, or a buffer."""

ACTIVE_TAGS = ("script", "html", "svg", "body", "iframe", "object", "embed", "!doctype", "?php")
"""Tags that make a file active content (after `<`, before a space, `/` or `>`)."""

_TAG_END = rb"[\t\n\f\r />]"
_URL_SCHEME = "javascript:"

ACTIVE_CONTENT: tuple[re.Pattern[bytes], ...] = (
    re.compile(
        b"<(?:" + b"|".join(re.escape(tag.encode()) for tag in ACTIVE_TAGS) + b")" + _TAG_END,
        re.IGNORECASE,
    ),
    # Searched from the colon back: a leading literal keeps the search fast,
    # where a case-insensitive word at the front would test every byte.
    re.compile(b":(?<=(?i:" + re.escape(_URL_SCHEME[:-1].encode()) + b"):)"),
)
"""Patterns of active content (see the module's docstring)."""

ACTIVE_CONTENT_LONGEST = max(1 + max(len(tag) for tag in ACTIVE_TAGS) + 1, len(_URL_SCHEME))
"""The longest match of `ACTIVE_CONTENT`, in bytes."""

# Whitespace and delimiters end a PDF name (ISO 32000-1, 7.2.2 and 7.3.5).
_PDF_NAME_END = rb"[\x00\t\n\f\r ()<>\[\]{}/%]"


@functools.cache
def pdf_names(names: tuple[str, ...]) -> tuple[re.Pattern[bytes], int]:
    """Return a pattern matching any of the PDF ``names`` and its longest match, in bytes.

    Each character may be written as itself or as ``#`` and two hex digits of
    either case; the name must end where a PDF name ends (whitespace or a
    delimiter), so `/JavaScripts` is not `/JavaScript`.
    """

    def character(code: int) -> bytes:
        return b"(?:%s|#(?i:%02x))" % (re.escape(bytes([code])), code)

    alternatives = b"|".join(b"".join(character(c) for c in name.encode()) for name in names)
    pattern = re.compile(b"/(?:" + alternatives + b")" + _PDF_NAME_END)
    return pattern, 1 + 3 * max(len(name) for name in names) + 1


def decode_pdf_name(raw: bytes) -> str:
    """Return a PDF name as its reader sees it: ``/Java#53cript`` is ``/JavaScript``."""
    decoded = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return decoded.decode("latin-1")


_SPECIAL = frozenset(b"\\()[]{}.*+?^$|")


class StreamSearch:
    """Finds the first match of some patterns in a stream fed chunk by chunk.

    Every pattern must start with one literal byte that has no case (``<``,
    ``:``, ``/``): a piece without that byte cannot hold a match starting in
    it, and ``in`` (a memchr) says so many times faster than the regex search
    can, so most text-free pieces cost one memchr per pattern.

    Attributes:
        scanned: Bytes searched so far, seams included (a measure of the work done).
        searched: Bytes that a full pattern search went through (seams excluded):
            those a memchr could not rule out.
    """

    def __init__(self, patterns: Sequence[re.Pattern[bytes]], *, longest: int) -> None:
        if longest < 2:
            raise ValueError("longest must be at least 2")
        self.patterns = [(_first_byte(pattern), pattern) for pattern in patterns]
        self.scanned = 0
        self.searched = 0
        self._keep = longest - 1
        self._overlap = b""

    def feed(self, data: Piece, start: int = 0, end: int | None = None) -> re.Match[bytes] | None:
        """Search ``data[start:end]``, the next bytes; return the first match found, or None.

        Positions, not a slice: the bytes are searched where they lie, never copied.
        """
        if isinstance(data, memoryview):
            data = bytes(data)  # `find` needs bytes; only the odd piece arrives as a view
        end = len(data) if end is None else end
        keep = self._keep
        # A match that straddles the previous chunk and this one lies in the seam;
        # a chunk shorter than the seam's share lies in it whole.
        seam = self._overlap + data[start : min(start + keep, end)]
        whole = end - start > keep
        self.scanned += len(seam) + (end - start if whole else 0)
        for first, pattern in self.patterns:
            found = pattern.search(seam)
            # `find` of one byte is a memchr: most pieces hold no candidate at all.
            if found is None and whole and data.find(first, start, end) >= 0:
                # `pattern.search(data, start, end)` sees only the piece (a look-behind
                # may peek before `start`: at bytes already searched, so nothing is missed).
                self.searched += end - start
                found = pattern.search(data, start, end)
            if found is not None:
                return found
        # A copy (of a few bytes): `data` may be a buffer that is reused.
        self._overlap = bytes(data[end - keep : end]) if whole else seam[-keep:]
        return None


def _first_byte(pattern: re.Pattern[bytes]) -> bytes:
    first = pattern.pattern[:1]
    if not first or first[0] in _SPECIAL or first.lower() != first.upper():
        raise ValueError(f"{pattern.pattern!r} must start with a literal byte that has no case")
    return first
