"""The exported columns, and timestamps as text without a Python step per row.

`UtcDateTime` writes a timestamp as ISO 8601 in UTC with `+00:00`;
formatting a million of them one call at a time costs more than reading them.
So an export selects each timestamp as `IsoUtc(column)`:

- on PostgreSQL, the server formats it (`to_char`, in C, in its own process);
- on SQLite, where SQLAlchemy stores timestamps as text
  ("2024-01-01 00:00:01.000000"), the value comes back as stored and
  `iso_utc_texts` rewrites a whole batch of them at once: one regex match
  checks that every value has that shape, then three `str.replace` calls on
  the joined text make them ISO 8601. A value of any other shape (written by
  another tool) goes through SQLAlchemy's own parser (`sources.py`).

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


@compiles(IsoUtc, "sqlite")
def _iso_utc_sqlite(element: IsoUtc, compiler: SQLCompiler, **kw: Any) -> str:
    # The value as stored. Per million rows, rewriting each value in SQL (a GLOB to
    # check its shape, then substr, replace and a concatenation) cost 0.7 s; the
    # batch rewrite of iso_utc_texts and rebuilding the rows cost 0.4 s together.
    return _argument(element, compiler, **kw)


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


# A timestamp as SQLAlchemy stores it on SQLite, and a batch of them, one per line.
_STORED = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}"
_STORED_TEXT = re.compile(_STORED)
_STORED_LINES = re.compile(f"(?:{_STORED}\n)*")


def _iso_from_stored_lines(joined: str) -> str:
    # Exact only for lines each in SQLAlchemy's shape (one space, then the time, then
    # six digits): the space is the date's end, and ".000000" at a line's end can
    # only be the microseconds, which isoformat() leaves out when they are zero.
    return joined.replace(" ", "T").replace(".000000\n", "\n").replace("\n", "+00:00\n")


def iso_utc_texts(
    values: Sequence[Any], fallback: Callable[[Any], str | None]
) -> Sequence[str | None]:
    """Return a batch of SQLite timestamps, as stored, as ISO 8601 in UTC with `+00:00`.

    The common case, every value in SQLAlchemy's shape, costs one regex match
    and three replacements for the whole batch. Otherwise each value in that
    shape is rewritten alone, and any other (or NULL) goes through `fallback`
    as stored.
    """
    try:
        joined = "\n".join(values) + "\n"
    except TypeError:  # NULL, or a value that is not text
        joined = ""
    if joined and _STORED_LINES.fullmatch(joined):
        texts = _iso_from_stored_lines(joined).split("\n")[:-1]
        # A value holding a line break would add a line: such a batch takes the slow way.
        if len(texts) == len(values):
            return texts
    return [
        _iso_from_stored_lines(value + "\n")[:-1]
        if isinstance(value, str) and _STORED_TEXT.fullmatch(value)
        else fallback(value)
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
