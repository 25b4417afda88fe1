"""`GET /exports/items.csv` and `GET /exports/items.ndjson`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..database import get_engine
from .encoders import CsvEncoder, NdjsonEncoder
from .export import export_response, open_export
from .models import EXPORT_COLUMNS, Item, ItemRow
from .settings import StreamingSettings

router = APIRouter(prefix="/exports", tags=["exports"])


class ExportFilters(BaseModel):
    """Which items an export holds; every filter is optional."""

    model_config = ConfigDict(extra="forbid")

    min_id: int = Field(default=0, ge=0, description="Only items with this id or a larger one.")
    limit: int | None = Field(
        default=None, ge=1, description="At most this many items (all when omitted)."
    )
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Only items whose name contains this text (case-insensitive for ASCII).",
    )


FiltersDep = Annotated[ExportFilters, Query()]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]

_BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Too many exports are running; retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}


def items_query(filters: ExportFilters) -> Select[Any]:
    """Return the export's query: one pass over the primary key, in a stable order."""
    statement = (
        select(*(getattr(Item, column) for column in EXPORT_COLUMNS))
        .where(Item.id >= filters.min_id)
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
    responses={
        200: {
            "description": "The items as RFC 4180 CSV with a header row, streamed.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **_BUSY,
    },
)
async def export_items_csv(request: Request, filters: FiltersDep, engine: EngineDep) -> Any:
    """Stream the items as CSV (UTF-8; a BOM first when EXPORT_CSV_BOM is set).

    Cells a spreadsheet would run as formulas (starting with `=`, `+`, `-`, `@`,
    a tab or a carriage return) are prefixed with `'`.
    """
    settings: StreamingSettings = request.app.state.export_settings
    export, first = await open_export(request, engine, items_query(filters), "items")
    return export_response(export, first, CsvEncoder(bom=settings.export_csv_bom), settings)


@router.get(
    "/items.ndjson",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "The items as JSON Lines, one `ItemRow` per line, streamed. An export "
                "that fails part-way ends with an `ExportError` line."
            ),
            "content": {
                "application/jsonl": {"itemSchema": ItemRow.model_json_schema(mode="serialization")}
            },
        },
        **_BUSY,
    },
)
async def export_items_ndjson(request: Request, filters: FiltersDep, engine: EngineDep) -> Any:
    """Stream the items as JSON Lines (`application/jsonl`), one object per line."""
    settings: StreamingSettings = request.app.state.export_settings
    export, first = await open_export(request, engine, items_query(filters), "items")
    return export_response(export, first, NdjsonEncoder(), settings)
