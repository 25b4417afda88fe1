"""The limit reference of benchmarks/websockets.py: a raw `websockets` server using broadcast().

What a competent user writes with the `websockets` library alone: rooms are
sets of connections keyed by path, and every text message a member sends is
pushed to every member with `websockets.broadcast()` (synchronous, no queue,
no task per client; a client that stops reading grows its write buffer until
the keepalive ping times out). No JSON envelope, no presence, no limits.
`GET /health` answers 200 for the benchmark's readiness probe.

Run: python -m benchmarks.peers.websockets_broadcast PORT (on uvloop when installed, as
uvicorn runs the generated app).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from http import HTTPStatus

from websockets.asyncio.server import Request, Response, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

rooms: dict[str, set[ServerConnection]] = {}


def health(connection: ServerConnection, request: Request) -> Response | None:
    """Answer `GET /health` without a WebSocket upgrade; let every other path through."""
    if request.path == "/health":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def room(connection: ServerConnection) -> None:
    """Relay every message of one member to its whole room until it leaves."""
    assert connection.request is not None
    members = rooms.setdefault(connection.request.path, set())
    members.add(connection)
    try:
        async for message in connection:
            broadcast(members, message)
    except ConnectionClosed:
        pass  # load clients drop their sockets without a close handshake
    finally:
        members.discard(connection)
        if not members:
            rooms.pop(connection.request.path, None)


async def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM or SIGINT."""
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        room, "127.0.0.1", port, process_request=health, compression=None, backlog=2048
    ):
        await stop


if __name__ == "__main__":
    try:  # the event loop uvicorn[standard] runs the generated app on
        import uvloop
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))
