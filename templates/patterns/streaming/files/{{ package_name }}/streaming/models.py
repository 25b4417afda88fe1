"""The exported `items` table and the shape of one exported row."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base
from ..timestamps import UtcDateTime


class Item(Base):
    """One row of the `items` table (created at start-up with the other models)."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100))
    price_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime())


class ItemRow(BaseModel):
    """One line of `GET /exports/items.ndjson` (and one row of the CSV export)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    name: str
    category: str
    price_cents: int
    created_at: UtcDateTime
    """When the item was created: ISO 8601 in UTC, with its offset (`+00:00`)."""


class ItemLine(BaseModel):
    """An `ItemRow` as the NDJSON encoder writes it, its timestamp already formatted.

    The same fields, and the same JSON, as `ItemRow`; formatting the timestamp
    before validation keeps Python callbacks out of pydantic's per-row work,
    which more than halves the encoder's time.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    category: str
    price_cents: int
    created_at: str


class ExportError(BaseModel):
    """The last line of an NDJSON export that failed after its first byte."""

    error: str
    rows_sent: int


# The exported columns, in CSV order; ItemRow lists the same fields.
EXPORT_COLUMNS = ("id", "name", "category", "price_cents", "created_at")
