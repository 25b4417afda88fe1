"""The upload page (/pages/upload): drop a file, see it stored or why it was refused."""

from pathlib import Path

from ..pages import Page, page_router

PAGE = Page(
    slug="upload",
    title="File upload",
    summary="drop a file on POST /files: see it stored, or why the server refused it",
    folder=Path(__file__).parent,
)

router = page_router(PAGE)
