"""Turning rows into CSV or NDJSON bytes, through one reused buffer per export.

An encoder collects rows into its buffer; the exporter takes the buffer's
content as one chunk whenever it holds enough bytes. Neither format ever holds
more than a chunk and one batch of rows.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from ..timestamps import as_utc
from .models import EXPORT_COLUMNS, ExportError, ItemLine

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


def csv_cells(row: Sequence[Any]) -> tuple[Any, ...]:
    """Return the CSV cells of one `items` row (in the order of `EXPORT_COLUMNS`).

    Text cells are escaped against formula injection; numbers are left alone
    (a negative price is a number, not a formula); timestamps are written as
    the NDJSON export writes them (ISO 8601 in UTC, with `+00:00`). Keep this in
    step with `EXPORT_COLUMNS` when you change the exported columns.
    """
    id_, name, category, price_cents, created_at = row
    return (
        id_,
        escape_formula(name),
        escape_formula(category),
        price_cents,
        utc_text(created_at),
    )


class Encoder(Protocol):
    """What the exporter needs from a format."""

    media_type: str
    extension: str

    def write(self, rows: Iterable[Any]) -> None:
        """Add rows to the buffer."""

    def pending(self) -> int:
        """Return roughly how many bytes the buffer holds."""

    def take(self) -> bytes:
        """Return the buffer's content as bytes and empty it."""

    def failure_marker(self, message: str, rows_sent: int) -> bytes | None:
        """Return the bytes that end a failed export, or None to cut the stream instead."""


def ndjson_fields(row: Sequence[Any]) -> dict[str, Any]:
    """Return the NDJSON fields of one `items` row, the timestamp as `UtcDateTime` writes it.

    Keep this in step with `EXPORT_COLUMNS`, as `csv_cells`.
    """
    id_, name, category, price_cents, created_at = row
    return {
        "id": id_,
        "name": name,
        "category": category,
        "price_cents": price_cents,
        "created_at": utc_text(created_at),
    }


class CsvEncoder:
    """RFC 4180 CSV (CRLF line ends, minimal quoting) in UTF-8, with a header row.

    CSV has no way to say "this file is incomplete", so a failed export is cut
    off: the client sees a truncated transfer rather than a file that looks whole.
    """

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, *, bom: bool = False) -> None:
        self._buffer = io.StringIO()
        # The "excel" dialect is RFC 4180: CRLF, fields quoted when they hold a
        # comma, a quote or a line break, quotes doubled.
        self._writer = csv.writer(self._buffer, dialect="excel")
        if bom:
            self._buffer.write(UTF8_BOM)
        self._writer.writerow(EXPORT_COLUMNS)

    def write(self, rows: Iterable[Any]) -> None:
        """Add rows to the buffer, escaped against formula injection."""
        self._writer.writerows(map(csv_cells, rows))

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
    """JSON Lines: one `ItemRow` object per line, in UTF-8, each line ending in a newline."""

    media_type = "application/jsonl"
    extension = "ndjson"

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, rows: Iterable[Any]) -> None:
        """Validate each row (as an `ItemLine`) and add its JSON line to the buffer."""
        to_json = ItemLine.__pydantic_serializer__.to_json
        validate = ItemLine.__pydantic_validator__.validate_python
        # All or nothing: a row that fails leaves no partial batch in the buffer.
        lines = b"\n".join([to_json(validate(ndjson_fields(row))) for row in rows])
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
