"""Turning rows into CSV or NDJSON bytes, through one reused buffer per export.

The exporter has each batch encoded where it was read (`encode_batch`: in the
reader's worker thread on SQLite), and gathers the bytes into chunks. Neither
format ever holds more than a chunk and one batch of rows.
"""

import csv
import io
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import BaseModel

from ..timestamps import as_utc
from .columns import ExportColumns
from .models import ExportError

# A spreadsheet runs a cell starting with one of these as a formula (CWE-1236),
# whatever the CSV quoting: "=HYPERLINK(...)" becomes a link, "@SUM(...)" a sum,
# and "|" starts a DDE call in some. They are also caught behind leading
# whitespace or invisible characters and in their compatibility forms
# ("\uff1d", fullwidth "="), which some spreadsheets trim or fold on import.
FORMULA_TRIGGERS = frozenset("=+-@|")

# A tab or a carriage return first is escaped outright (OWASP's list).
ESCAPED_FIRST = frozenset("\t\r")

# Unicode categories passed over when looking for the first visible character:
# controls, format characters (zero-width space, BOM, bidi marks), separators
# and combining marks.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})

# Letters that render as nothing (Hangul fillers) although their category is Lo.
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")

UTF8_BOM = "\ufeff"


def _first_visible(value: str) -> str:
    """Return the NFKC form of the first visible character of `value` ("" if none)."""
    for char in value:
        if char in INVISIBLE_LETTERS or unicodedata.category(char) in INVISIBLE_CATEGORIES:
            continue
        return unicodedata.normalize("NFKC", char)[:1]
    return ""


def escape_formula(value: str) -> str:
    """Prefix `value` with `'` if a spreadsheet could read it as a formula.

    The rule: a tab or a carriage return first, or a first visible character
    (after whitespace, control, format and combining characters, compared in
    its NFKC form) that is one of `=`, `+`, `-`, `@` or `|`.
    """
    if not value:
        return value
    first = value[0]
    # The common case, a letter or a digit first, costs two comparisons.
    if first.isascii() and first.isalnum():
        return value
    if first in ESCAPED_FIRST or _first_visible(value) in FORMULA_TRIGGERS:
        return "'" + value
    return value


def utc_text(value: datetime) -> str:
    """Return `value` as `UtcDateTime` serialises it: ISO 8601 in UTC, with `+00:00`.

    The naive values the database returns take the short way, a third of the
    time of converting each (which a million rows would notice).
    """
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"
    return as_utc(value).isoformat()


class Encoder(Protocol):
    """What the exporter needs from a format."""

    media_type: str
    extension: str

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Add a batch of rows to the buffer."""

    def pending(self) -> int:
        """Return roughly how many bytes the buffer holds."""

    def take(self) -> bytes:
        """Return the buffer's content as bytes and empty it."""

    def failure_marker(self, message: str, rows_sent: int) -> bytes | None:
        """Return the bytes that end a failed export, or None to cut the stream instead."""


def encode_batch(encoder: Encoder, rows: Sequence[Sequence[Any]]) -> bytes:
    """Return what `encoder` held and a batch of rows, as bytes, and empty its buffer.

    The exporter calls it where the rows were read (a worker thread for
    SQLite), one batch at a time; nothing else touches the encoder then.
    """
    encoder.write(rows)
    return encoder.take()


# Where a cell of "\x00" + "\x00".join(cells) starts with something other than
# an ASCII letter or digit (or NUL, see _may_need_escaping). A literal first
# character lets the regex engine skip ahead from NUL to NUL at C speed.
_UNSAFE_START = re.compile(r"\x00[^0-9A-Za-z\x00]")


def _may_need_escaping(cells: Iterable[Any]) -> bool:
    """Return False only if `escape_formula` leaves every one of `cells` as it is.

    Each cell follows a NUL in the joined text, so any cell whose first
    character is neither an ASCII letter, a digit nor NUL is found. A cell
    that starts with NULs is found unless an ASCII letter or digit follows
    them (or nothing): then its first visible character is that letter or
    digit, or there is none, and `escape_formula` leaves it alone too.
    Empty cells pass. A cell that is not text (NULL) makes the answer True.
    """
    try:
        joined = "\x00" + "\x00".join(cells)
    except TypeError:
        return True
    return _UNSAFE_START.search(joined) is not None


def _escape_cell(value: Any) -> Any:
    return escape_formula(value) if isinstance(value, str) else value


class CsvEncoder:
    """RFC 4180 CSV (CRLF line ends, minimal quoting) in UTF-8, with a header row.

    Rows hold the cells of `columns`, timestamps already as text. Text cells
    are checked a batch and a column at a time (`_may_need_escaping`): a batch
    that needs no escaping, the common case, goes to `csv.writer` in one
    call, without a Python step per row; in the others, the flagged columns
    go through `escape_formula` cell by cell.

    CSV has no way to say "this file is incomplete", so a failed export is cut
    off: the client sees a truncated transfer rather than a file that looks whole.
    """

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, columns: ExportColumns, *, bom: bool = False) -> None:
        self._text = [
            (position, operator.itemgetter(position)) for position in columns.text_positions
        ]
        self._buffer = io.StringIO()
        # The "excel" dialect is RFC 4180: CRLF, fields quoted when they hold a
        # comma, a quote or a line break, quotes doubled.
        self._writer = csv.writer(self._buffer, dialect="excel")
        if bom:
            self._buffer.write(UTF8_BOM)
        self._writer.writerow(columns.names)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Add rows to the buffer, escaped against formula injection."""
        flagged = [position for position, cell in self._text if _may_need_escaping(map(cell, rows))]
        if not flagged:
            self._writer.writerows(rows)
            return
        cells: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for position in flagged:
            cells[position] = list(map(_escape_cell, cells[position]))
        self._writer.writerows(zip(*cells, strict=True))

    def pending(self) -> int:
        """Return the buffer's length in characters (bytes for ASCII text)."""
        return self._buffer.tell()

    def take(self) -> bytes:
        """Return the buffer's content in UTF-8 and empty it for reuse."""
        data = self._buffer.getvalue().encode()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def failure_marker(self, message: str, rows_sent: int) -> bytes | None:
        """Return None: a CSV export that fails is cut off, never completed."""
        del message, rows_sent
        return None


class NdjsonEncoder:
    """JSON Lines: one `line_model` object per line, in UTF-8, each line ending in a newline.

    Each row (the cells of `columns`, exactly as stored, timestamps as text)
    is validated as `line_model` and written by pydantic.
    """

    media_type = "application/jsonl"
    extension = "ndjson"

    def __init__(self, columns: ExportColumns, line_model: type[BaseModel]) -> None:
        self._names = columns.names
        self._to_json = line_model.__pydantic_serializer__.to_json
        self._validate = line_model.__pydantic_validator__.validate_python
        self._buffer = bytearray()

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Validate each row (as the line model) and add its JSON line to the buffer."""
        to_json, validate, names = self._to_json, self._validate, self._names
        # All or nothing: a row that fails leaves no partial batch in the buffer.
        lines = b"\n".join([to_json(validate(dict(zip(names, row, strict=True)))) for row in rows])
        if lines:
            self._buffer += lines
            self._buffer += b"\n"

    def pending(self) -> int:
        """Return the buffer's length in bytes."""
        return len(self._buffer)

    def take(self) -> bytes:
        """Return the buffer's content and empty it for reuse."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def failure_marker(self, message: str, rows_sent: int) -> bytes | None:
        """Return the `{"error": ..., "rows_sent": ...}` line that ends a failed export."""
        return ExportError(error=message, rows_sent=rows_sent).model_dump_json().encode() + b"\n"


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def content_disposition(filename: str) -> str:
    """Return an `attachment` Content-Disposition header for `filename` (RFC 6266).

    The plain `filename=` is an ASCII fallback with everything but letters,
    digits, `.`, `_` and `-` replaced; `filename*=` (RFC 8187) keeps the name in
    UTF-8, percent-encoded. Path separators, quotes and control characters never
    reach the header, whatever `filename` holds.
    """
    name = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip(" .") or "export"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE_FILENAME.sub("_", ascii_name).strip("._") or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
