"""The chat page (/pages/chat): two rooms to switch between, who is in them, reconnection."""

from pathlib import Path

from ..pages import Page, page_router

PAGE = Page(
    slug="chat",
    title="Chat rooms",
    summary="talk in two rooms over WS /ws/{room_id}, see who is there, reconnect on failure",
    folder=Path(__file__).parent,
)

router = page_router(PAGE)
