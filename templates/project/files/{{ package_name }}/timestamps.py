"""One type for every timestamp the API serves: UTC, with an explicit offset.

SQLite (and a PostgreSQL `timestamp` column without time zone) hands back naive
datetimes. Serialised as they are, they lack an offset, which the `date-time`
format of the OpenAPI document requires, and clients would read them as local
time. `UtcDateTime` takes a naive value as UTC, converts an aware one to UTC and
always serialises as ISO 8601 ending in `+00:00`.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive value is taken to be in UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _isoformat(value: datetime) -> str:
    # isoformat() writes "+00:00" where pydantic would write "Z": one spelling
    # for every timestamp, whatever produced it.
    return as_utc(value).isoformat()


UtcDateTime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A datetime field that is always UTC and serialised with its offset."""
