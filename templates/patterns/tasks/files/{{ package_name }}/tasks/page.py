"""The task page (/pages/tasks): launch the demo job, watch its progress live, cancel it."""

from pathlib import Path

from ..pages import Page, page_router

PAGE = Page(
    slug="tasks",
    title="Background tasks",
    summary="launch a job, follow its progress as server-sent events, cancel it",
    folder=Path(__file__).parent,
)

router = page_router(PAGE)
