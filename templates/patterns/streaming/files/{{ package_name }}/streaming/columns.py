"""The exported columns, and timestamps as text without a Python step per row.

`UtcDateTime` writes a timestamp as ISO 8601 in UTC with `+00:00`;
formatting a million of them one call at a time costs more than reading them.
So an export selects each timestamp as `IsoUtc(column)`:

- on PostgreSQL, the server formats it (`to_char`, in C, in its own process);
- on SQLite, where SQLAlchemy stores timestamps as text
  ("2024-01-01 00:00:01.000000"), SQLite rewrites a value in that shape with
  two string functions (in its VM, which runs without the GIL, while the
  event loop encodes the previous batch); `iso_utc_texts` checks a whole
  batch in one regex match and sends any other shape (written by another
  tool) through SQLAlchemy's own parser (`sources.py`).

Text cells stay as stored: the CSV encoder checks a whole batch of them against
formula injection at once (`encoders.py`).
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, String, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class IsoUtc(FunctionElement[str]):
    """A timestamp column as `UtcDateTime` writes it: ISO 8601 in UTC, with `+00:00`.

    The same text as `datetime.isoformat()` of the UTC value plus the offset:
    microseconds only when there are any. On SQLite the value comes back as
    stored, for `iso_utc_texts` to format.
    """

    type = String()
    name = "iso_utc"
    inherit_cache = True


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return compiler.process(argument, **kw)


# SQLAlchemy's shape of a stored timestamp, as a GLOB (which matches the whole value).
_DIGIT = "[0-9]"
_SQLITE_STORED_GLOB = (
    f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2} {_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}.{_DIGIT * 6}"
)


@compiles(IsoUtc, "sqlite")
def _iso_utc_sqlite(element: IsoUtc, compiler: SQLCompiler, **kw: Any) -> str:
    # Measured on a million rows: two string functions in SQLite's VM cost less
    # than taking each batch apart in Python to rewrite it, and they run outside
    # the GIL. Any other shape comes back as stored, for iso_utc_texts' fallback.
    value = _argument(element, compiler, **kw)
    return (
        f"CASE WHEN {value} GLOB '{_SQLITE_STORED_GLOB}' THEN replace("
        f"CASE WHEN substr({value}, 21) = '000000' THEN substr({value}, 1, 19) ELSE {value} END"
        f", ' ', 'T') || '+00:00' ELSE {value} END"
    )


@compiles(IsoUtc, "postgresql")
def _iso_utc_postgresql(element: IsoUtc, compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    value = _argument(element, compiler, **kw)
    if isinstance(argument.type, DateTime) and argument.type.timezone:
        value = f"({value} AT TIME ZONE 'UTC')"
    # ".000000" can only be the microseconds (no other field has a dot): dropping
    # it is isoformat()'s rule. asyncpg reads (and writes) datetime.min and
    # datetime.max as -infinity and infinity, which to_char cannot format.
    return (
        f"CASE WHEN {value} = 'infinity' THEN '{datetime.max.isoformat()}+00:00' "
        f"WHEN {value} = '-infinity' THEN '{datetime.min.isoformat()}+00:00' "
        f'ELSE replace(to_char({value}, \'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\'), '
        "'.000000', '') END"
    )


# A timestamp as `_iso_utc_sqlite` writes it, and a batch of them, one per line.
_ISO_UTC = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?\+00:00"
_ISO_UTC_TEXT = re.compile(_ISO_UTC)
_ISO_UTC_LINES = re.compile(f"(?:{_ISO_UTC}\n)*")


def iso_utc_texts(
    values: Sequence[Any], fallback: Callable[[Any], str | None]
) -> Sequence[str | None] | None:
    """Check a batch of SQLite timestamps as `IsoUtc` selected them; return what must change.

    None, the common case, when every value is already ISO 8601 in UTC with
    `+00:00` (SQLite rewrote them: one regex match for the whole batch).
    Otherwise the batch's values, each value of another shape (or NULL) through
    `fallback`.
    """
    try:
        joined = "\n".join(values) + "\n"
    except TypeError:  # NULL, or a value that is not text
        joined = ""
    if joined and _ISO_UTC_LINES.fullmatch(joined):
        return None
    return [
        value if isinstance(value, str) and _ISO_UTC_TEXT.fullmatch(value) else fallback(value)
        for value in values
    ]


@dataclass(frozen=True)
class ExportColumns:
    """The columns an export selects, in order, and what kind of cell each is.

    Attributes:
        columns: The model's columns, in the export's order.
        names: Their names (the CSV header, the NDJSON keys).
        text_positions: The positions of the text cells (escaped in CSV).
        timestamp_positions: The positions of the timestamps (ISO 8601 text).
    """

    columns: tuple[InstrumentedAttribute[Any], ...]
    names: tuple[str, ...]
    text_positions: tuple[int, ...]
    timestamp_positions: tuple[int, ...]

    def select(self) -> Select[Any]:
        """Return the export's SELECT: each cell, timestamps as `IsoUtc`."""
        cells = [
            IsoUtc(column).label(column.key) if position in self.timestamp_positions else column
            for position, column in enumerate(self.columns)
        ]
        return select(*cells)


def export_columns(*columns: InstrumentedAttribute[Any]) -> ExportColumns:
    """Describe an export of `columns`: strings are text cells, timestamps ISO 8601 text."""
    text = tuple(i for i, column in enumerate(columns) if isinstance(column.type, String))
    stamps = tuple(i for i, column in enumerate(columns) if isinstance(column.type, DateTime))
    return ExportColumns(columns, tuple(column.key for column in columns), text, stamps)
