"""`WS /ws/{room_id}` (chat rooms) and `GET /ws/rooms/{room_id}` (who is in a room)."""

import asyncio
import logging
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, WebSocket, status
from pydantic import BaseModel

from .backplane import BackplaneUnavailableError
from .frames import error_frame
from .hub import Connection, Hub, get_hub
from .security import authenticate, origin_allowed

logger = logging.getLogger(__name__)

ROOM_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ROOM_ID = re.compile(ROOM_ID_PATTERN)

router = APIRouter(tags=["websockets"])


class Presence(BaseModel):
    """Who is in a room."""

    room: str
    count: int
    members: list[str]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.stamp = asyncio.get_running_loop().time()

    def take(self) -> bool:
        """Take one token; return False if none is left."""
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def _read(websocket: WebSocket, conn: Connection, hub: Hub) -> None:
    """Publish the client's text frames until it leaves or breaks a limit."""
    settings = hub.settings
    limit = settings.ws_max_message_bytes
    bucket = (
        TokenBucket(settings.ws_rate_limit, settings.ws_rate_burst)
        if settings.ws_rate_limit > 0
        else None
    )
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        if text is None:
            if len(message.get("bytes") or b"") > limit:
                conn.end(status.WS_1009_MESSAGE_TOO_BIG, "message too big")
                return
            conn.offer(error_frame(conn.room, "binary frames are not supported: send text"))
            continue
        if len(text) > limit or len(text.encode()) > limit:
            conn.end(status.WS_1009_MESSAGE_TOO_BIG, f"message too big (limit {limit} bytes)")
            return
        if bucket is not None and not bucket.take():
            conn.offer(error_frame(conn.room, "rate limit exceeded: message dropped"))
            continue
        conn.published += 1
        try:
            # Waits (up to WS_PUBLISH_TIMEOUT) while Redis is away: this client's
            # next messages wait too, so they keep their order.
            await hub.publish(conn.room, "message", conn.sender, text, number=conn.published)
        except BackplaneUnavailableError as exc:
            logger.warning("Message from %s in room %s not sent: %s", conn.sender, conn.room, exc)
            conn.offer(error_frame(conn.room, "message not delivered: try again"))


@router.websocket("/ws/{room_id}")
async def room_socket(websocket: WebSocket, room_id: str) -> None:
    """Join the chat room ``room_id``.

    Each text frame the client sends is a message to the room; the server
    sends JSON frames (see `frames`). Refused before the handshake (HTTP 403):
    an invalid room id, a foreign Origin, an authentication failure, a full room
    (counted on every worker), Redis unreachable.
    """
    hub = get_hub(websocket.app)
    if not ROOM_ID.fullmatch(room_id):
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "invalid room id")
        return
    if not origin_allowed(websocket, hub.settings):
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "origin not allowed")
        return
    identity = await authenticate(websocket)
    try:
        conn = await hub.admit(websocket, room_id, identity)
    except BackplaneUnavailableError as exc:
        # Without Redis the room can neither count its members nor carry messages.
        logger.warning("Refused a client of room %s: %s", room_id, exc)
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "service unavailable")
        return
    if conn is None:
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "room is full")
        return
    try:
        await websocket.accept()
    except BaseException:
        await hub.release(conn)  # the handshake failed: give the place back
        raise
    await hub.serve(conn, lambda: _read(websocket, conn, hub))


@router.get("/ws/rooms/{room_id}")
async def room_presence(
    request: Request, room_id: Annotated[str, Path(pattern=ROOM_ID_PATTERN)]
) -> Presence:
    """Return who is in the room (on every worker when Redis is used)."""
    hub = get_hub(request.app)
    try:
        members = await hub.backplane.members(room_id)
    except BackplaneUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "presence unavailable") from exc
    return Presence(room=room_id, count=len(members), members=members)
