"""The naive reference for benchmarks/websockets.py: chat rooms with a sequential broadcast.

What the seed document describes, kept deliberately naive: a dict of rooms
holding lists of sockets, a broadcast that awaits each socket's send in turn,
no queue bound, no limits, one process only. Serve it with
``uvicorn benchmarks.naive_websockets_app:app`` from the repository root.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


class Rooms:
    """Sockets per room; broadcasting awaits every send, one after the other."""

    def __init__(self) -> None:
        self.sockets: dict[str, list[WebSocket]] = {}

    async def join(self, room: str, websocket: WebSocket) -> None:
        """Accept the socket and add it to the room."""
        await websocket.accept()
        self.sockets.setdefault(room, []).append(websocket)

    def leave(self, room: str, websocket: WebSocket) -> None:
        """Remove the socket; drop the room when it empties."""
        members = self.sockets.get(room, [])
        if websocket in members:
            members.remove(websocket)
        if not members:
            self.sockets.pop(room, None)

    async def broadcast(self, room: str, text: str) -> None:
        """Send ``text`` to every member, waiting for each send in turn."""
        for websocket in list(self.sockets.get(room, [])):
            await websocket.send_text(text)


rooms = Rooms()


@app.get("/health")
async def health() -> dict[str, str]:
    """Answer the benchmark's readiness probe."""
    return {"status": "ok"}


@app.websocket("/ws/{room_id}")
async def room_socket(websocket: WebSocket, room_id: str) -> None:
    """Relay every text frame to the room; announce departures."""
    await rooms.join(room_id, websocket)
    try:
        while True:
            text = await websocket.receive_text()
            await rooms.broadcast(room_id, f"Client in room {room_id}: {text}")
    except WebSocketDisconnect:
        rooms.leave(room_id, websocket)
        await rooms.broadcast(room_id, f"Client left the room {room_id}")
