"""`WS /ws/{room_id}` (chat rooms) and `GET /ws/rooms/{room_id}` (who is in a room)."""

import asyncio
import logging
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, WebSocket, status
from pydantic import BaseModel
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from ..errors import problem_response, problem_responses
from .admission import Refusal, client_key
from .backplane import BackplaneUnavailableError
from .connection import Connection
from .frames import error_frame
from .hub import Hub, get_hub
from .security import authenticate, origin_allowed

logger = logging.getLogger(__name__)

ROOM_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ROOM_ID = re.compile(ROOM_ID_PATTERN)
INVALID_ROOM_ID = "invalid room id: 1 to 64 characters among A-Z, a-z, 0-9, _ and -"

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
    """Publish the client's text frames until it leaves, breaks a limit or is ended.

    Every frame read counts towards the rate limit, text or binary, even one
    that is refused: a client cannot make the server do more work per second
    by sending frames that are not messages.
    """
    settings = hub.settings
    limit = settings.ws_max_message_bytes
    bucket = (
        TokenBucket(settings.ws_rate_limit, settings.ws_rate_burst)
        if settings.ws_rate_limit > 0
        else None
    )
    # `end` from another task cancels this one; from this task itself (a publish that
    # found this client's own queue full) it cannot, so the loop looks.
    while not conn.ending:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        data: bytes | None = message.get("bytes")
        if text is not None and (len(text) > limit or len(text.encode()) > limit):
            conn.end(status.WS_1009_MESSAGE_TOO_BIG, f"message too big (limit {limit} bytes)")
            return
        if data is not None and len(data) > limit:
            conn.end(status.WS_1009_MESSAGE_TOO_BIG, f"message too big (limit {limit} bytes)")
            return
        if bucket is not None and not bucket.take():
            conn.tell(error_frame(conn.room, "rate limit exceeded: message dropped"))
            continue
        if text is None:
            conn.tell(error_frame(conn.room, "binary frames are not supported: send text"))
            continue
        conn.published += 1
        try:
            # Waits (up to WS_PUBLISH_TIMEOUT) while Redis is away: this client's
            # next messages wait too, so they keep their order.
            await hub.publish(conn.room, "message", conn.sender, text, number=conn.published)
        except BackplaneUnavailableError as exc:
            logger.warning("Message from %s in room %s not sent: %s", conn.sender, conn.room, exc)
            conn.tell(error_frame(conn.room, "message not delivered: try again"))


async def refuse(websocket: WebSocket, status_code: int, detail: str, close_code: int) -> None:
    """Refuse the handshake with HTTP ``status_code`` and a problem details body.

    On an ASGI server without the WebSocket denial response extension (uvicorn
    with `--ws wsproto`), close with ``close_code`` instead, which the server
    answers with HTTP 403. Browsers see neither status nor body: their socket
    fails (close code 1006), whatever the reason.
    """
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        problem = problem_response(status_code, detail=detail, instance=websocket.url.path)
        await websocket.send_denial_response(problem)
    else:
        await websocket.close(close_code, detail)


class AsgiSocket:
    """The `Socket` a connection sends on: data frames straight to the server's ASGI ``send``.

    Starlette's `WebSocket.send` checks the connection's state on every call;
    after the handshake that check is always the same, and at one call per
    frame per member it was the largest cost of a delivery after the write
    itself. Closing still goes through the `WebSocket`, which tracks the state.
    """

    __slots__ = ("_websocket", "send")

    def __init__(self, websocket: WebSocket, send: Send) -> None:
        self._websocket = websocket
        self.send = send

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the close handshake."""
        await self._websocket.close(code, reason)


class RoomSocket:
    """`WS /ws/{room_id}`: join the chat room ``room_id``.

    Each text frame the client sends is a message to the room; the server
    sends JSON frames (see `frames`). Refused before the handshake, with a
    problem details response: 403 for an invalid room id or a foreign Origin
    (a failed authentication gets a plain 403), 429 when the client's address holds
    WS_MAX_CONNECTIONS_PER_CLIENT sockets on this worker, 503 when this worker
    holds WS_MAX_CONNECTIONS, the room is full (counted on every worker) or
    Redis is unreachable.

    A plain ASGI endpoint rather than a FastAPI WebSocket route: every open
    socket keeps its handler's whole call chain alive, and FastAPI's (its
    dependency solving, its exception wrapper) cost each connection about
    7 KiB and the garbage collector more objects to walk. The app's middleware
    and exception handlers apply as before; FastAPI dependencies do not (there
    are none: `security.authenticate` is the hook).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one socket."""
        websocket = WebSocket(scope, receive, send)
        room_id: str = scope["path_params"]["room_id"]
        hub = get_hub(websocket.app)
        if not ROOM_ID.fullmatch(room_id):
            await refuse(websocket, 403, INVALID_ROOM_ID, status.WS_1008_POLICY_VIOLATION)
            return
        if not origin_allowed(websocket, hub.settings):
            await refuse(websocket, 403, "origin not allowed", status.WS_1008_POLICY_VIOLATION)
            return
        client = client_key(websocket.client.host if websocket.client else None)
        refusal = hub.sockets.acquire(client)
        if refusal is not None:
            code = 429 if refusal is Refusal.CLIENT_FULL else 503
            await refuse(websocket, code, refusal.value, status.WS_1013_TRY_AGAIN_LATER)
            return
        try:
            await _join(websocket, AsgiSocket(websocket, send), room_id, hub)
        finally:
            hub.sockets.release(client)


async def _join(websocket: WebSocket, socket: AsgiSocket, room_id: str, hub: Hub) -> None:
    """Authenticate the client, take its place in the room, accept it and serve it."""
    identity = await authenticate(websocket)
    try:
        conn = await hub.admit(socket, room_id, identity)
    except BackplaneUnavailableError as exc:
        # Without Redis the room can neither count its members nor carry messages.
        logger.warning("Refused a client of room %s: %s", room_id, exc)
        await refuse(websocket, 503, "service unavailable", status.WS_1013_TRY_AGAIN_LATER)
        return
    if conn is None:
        await refuse(websocket, 503, "room is full", status.WS_1013_TRY_AGAIN_LATER)
        return
    try:
        await websocket.accept()
    except BaseException:
        await hub.release(conn)  # the handshake failed: give the place back
        raise
    await hub.serve(conn, lambda: _read(websocket, conn, hub))


router.routes.append(WebSocketRoute("/ws/{room_id}", RoomSocket(), name="room_socket"))


@router.get("/ws/rooms/{room_id}", responses=problem_responses(503))
async def room_presence(
    request: Request,
    room_id: Annotated[str, Path(min_length=1, max_length=64, pattern=ROOM_ID_PATTERN)],
) -> Presence:
    """Return who is in the room (on every worker when Redis is used)."""
    hub = get_hub(request.app)
    try:
        members = await hub.backplane.members(room_id)
    except BackplaneUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "presence unavailable") from exc
    return Presence(room=room_id, count=len(members), members=members)
