"""The export page (/pages/exports): download the items as CSV, watch them arrive as NDJSON."""

from pathlib import Path

from ..pages import Page, page_router

PAGE = Page(
    slug="exports",
    title="Exports",
    summary="download the items as CSV, or watch the NDJSON export arrive line by line",
    folder=Path(__file__).parent,
)

router = page_router(PAGE)
