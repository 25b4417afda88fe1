"""`GET /exports/items.csv` and `GET /exports/items.ndjson`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Select, literal
from sqlalchemy.ext.asyncio import AsyncEngine

from ..database import get_engine
from ..errors import problem_responses
from ..limits import MAX_SQL_INT
from .columns import export_columns
from .encoders import CsvEncoder, NdjsonEncoder
from .export import export_response, open_export
from .models import EXPORT_COLUMNS, Item, ItemLine, ItemRow
from .settings import StreamingSettings

router = APIRouter(prefix="/exports", tags=["exports"])

# What the exports select: the cells, timestamps as ISO 8601 text (see columns.py).
ITEM_COLUMNS = export_columns(*(getattr(Item, column) for column in EXPORT_COLUMNS))


class ExportFilters(BaseModel):
    """Which items an export holds; every filter is optional."""

    model_config = ConfigDict(extra="forbid")

    # Bounded to what SQL holds: a larger integer would fail in the driver, after
    # the request was accepted. Checked before the stream starts, as all of these.
    min_id: int = Field(
        default=0, ge=0, le=MAX_SQL_INT, description="Only items with this id or a larger one."
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SQL_INT,
        description="At most this many items (all when omitted).",
    )
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        # PostgreSQL text cannot hold NUL: refused here rather than by the database.
        pattern=r"^[^\x00]+$",
        description="Only items whose name contains this text (case-insensitive for ASCII).",
    )


FiltersDep = Annotated[ExportFilters, Query()]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


def _export_responses(
    description: str, media_type: str, content: dict[str, Any]
) -> dict[int | str, dict[str, Any]]:
    """Document an export's statuses: the stream itself, and the 503 of a full server.

    422 (invalid filters) and 500 are documented app-wide. The stream's media
    type is the only one of the 200: FastAPI's default `application/json` would
    tell clients (and schemathesis) to expect JSON.
    """
    busy = problem_responses(503)[503]
    busy["description"] = "Too many exports are running; retry after `Retry-After` seconds."
    busy["headers"] = {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    }
    stream = {
        "description": description,
        "headers": {
            "Content-Disposition": {
                "description": "`attachment`, with the file's name.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
        "content": {media_type: content},
    }
    return {200: stream, 503: busy}


def items_query(filters: ExportFilters) -> Select[Any]:
    """Return the export's query: one pass over the primary key, in a stable order."""
    statement = (
        ITEM_COLUMNS.select()
        # A BIGINT bind: on PostgreSQL `id` is an INTEGER (4 bytes), and a bind of
        # that type would refuse a min_id above 2**31 - 1 instead of matching nothing.
        .where(Item.id >= literal(filters.min_id, BigInteger))
        .order_by(Item.id)
    )
    if filters.q is not None:
        # autoescape: `%` and `_` in the text are matched literally.
        statement = statement.where(Item.name.icontains(filters.q, autoescape=True))
    if filters.limit is not None:
        statement = statement.limit(filters.limit)
    return statement


@router.get(
    "/items.csv",
    response_class=StreamingResponse,
    responses=_export_responses(
        "The items as RFC 4180 CSV with a header row, streamed.",
        "text/csv",
        {"schema": {"type": "string"}},
    ),
)
async def export_items_csv(request: Request, filters: FiltersDep, engine: EngineDep) -> Any:
    """Stream the items as CSV (UTF-8; a BOM first when EXPORT_CSV_BOM is set).

    Cells a spreadsheet could run as formulas are prefixed with `'`: those that
    start with a tab or a carriage return, or whose first visible character
    (after whitespace and invisible characters, in its NFKC form) is `=`, `+`,
    `-`, `@` or `|`.
    """
    settings: StreamingSettings = request.app.state.export_settings
    encoder = CsvEncoder(ITEM_COLUMNS, bom=settings.export_csv_bom)
    export, first = await open_export(
        request, engine, items_query(filters), ITEM_COLUMNS, "items", encoder
    )
    return export_response(export, first, encoder, settings)


@router.get(
    "/items.ndjson",
    response_class=StreamingResponse,
    responses=_export_responses(
        "The items as JSON Lines, one `ItemRow` per line, streamed. An export that fails "
        "part-way ends with an `ExportError` line.",
        "application/jsonl",
        {"itemSchema": ItemRow.model_json_schema(mode="serialization")},
    ),
)
async def export_items_ndjson(request: Request, filters: FiltersDep, engine: EngineDep) -> Any:
    """Stream the items as JSON Lines (`application/jsonl`), one object per line."""
    settings: StreamingSettings = request.app.state.export_settings
    encoder = NdjsonEncoder(ITEM_COLUMNS, ItemLine)
    export, first = await open_export(
        request, engine, items_query(filters), ITEM_COLUMNS, "items", encoder
    )
    return export_response(export, first, encoder, settings)
