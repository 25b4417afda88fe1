"""The rooms of one worker: bounded queues, one writer per connection, no waiting on the network.

A broadcast never awaits a socket. `Hub.deliver` builds the ASGI message of
a frame once and appends it to each member's bounded queue; each connection
has exactly one writer task, the only code that sends on its socket, and it
sends everything queued each time it wakes up (a burst of frames costs one
task switch, not one per frame). A client whose queue is full (it stopped
reading, or reads too slowly) is removed from its room at once and closed
with 1013 (Try Again Later): one slow client can neither delay the others
nor make the server buffer without bound.

A connection's life: `Hub.admit` reserves its place in the room (atomically
on every worker, see WS_MAX_CONNECTIONS_PER_ROOM), `Hub.serve` sends it its
`welcome`, runs it and removes it; its join and leave reach the room in the
next `presence` frame (see `presence`).
"""

import asyncio
import contextlib
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType

from fastapi import FastAPI
from redis.asyncio import Redis

from ..redis_client import get_redis
from .admission import ConnectionCounter
from .backplane import Backplane, MemoryBackplane
from .connection import CLOSE_TIMEOUT, GOING_AWAY, TRY_AGAIN_LATER, Connection, Reader, Socket
from .frames import FrameType as Kind
from .frames import encode_body, send_message, welcome_frame
from .presence import PresenceBatcher
from .redis_backplane import RedisBackplane
from .settings import WebSocketSettings

__all__ = ["Connection", "Hub", "Socket", "get_hub", "lifespan", "running_hub"]


class Hub:
    """The rooms of this worker, and the backplane that links them to the other workers."""

    def __init__(self, settings: WebSocketSettings) -> None:
        self.settings = settings
        self.rooms: dict[str, dict[str, Connection]] = {}
        # Sockets open or in their handshake, by client address (WS_MAX_CONNECTIONS*).
        self.sockets = ConnectionCounter(
            settings.ws_max_connections_per_client, settings.ws_max_connections
        )
        self.backplane: Backplane = MemoryBackplane(self)
        self.presence = PresenceBatcher(settings.ws_presence_interval, self._announce)
        self._running: set[Connection] = set()
        self._leaving: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the watchdog that closes clients whose send hangs (see WS_SEND_TIMEOUT)."""
        self._watchdog = asyncio.create_task(self._watch(), name="ws-send-watchdog")

    async def stop(self) -> None:
        """Announce the last joins and leaves, and stop the watchdog."""
        if self._leaving:
            await asyncio.wait(self._leaving)
        await self.presence.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.wait([self._watchdog])
            self._watchdog = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        period = min(1.0, self.settings.ws_send_timeout / 2)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for conn in list(self._running):
                since = conn.sending_since
                if since is not None and now - since > conn.send_timeout:
                    conn.end(TRY_AGAIN_LATER, "too slow: send timed out")
                    self._discard(conn)

    async def admit(
        self, socket: Socket, room: str, identity: str | None = None
    ) -> Connection | None:
        """Return a new connection to ``room`` with its place reserved, or None if the room is full.

        The check and the reservation are one atomic step on every worker, so
        concurrent newcomers never exceed WS_MAX_CONNECTIONS_PER_ROOM. Serve the
        connection (`serve`) or give its place back (`release`).

        Raises:
            BackplaneUnavailableError: Redis is unreachable; nothing was reserved.
        """
        token = secrets.token_hex(4)
        conn = Connection(
            socket,
            room,
            f"{identity}#{token}" if identity else token,
            queue_size=self.settings.ws_queue_size,
            send_timeout=self.settings.ws_send_timeout,
        )
        limit = self.settings.ws_max_connections_per_room
        if not await self.backplane.admit(room, conn.sender, limit):
            return None
        return conn

    async def release(self, conn: Connection) -> None:
        """Give back the place of an admitted connection that will not be served."""
        await self.backplane.release(conn.room, conn.sender)

    async def serve(self, conn: Connection, read: Reader) -> None:
        """Join ``conn`` (from `admit`) to its room, run it (see `Connection.run`), and leave.

        The `leave` is recorded as soon as the connection stops, before its close
        handshake (which a stalled client can make last `CLOSE_TIMEOUT` seconds).
        """
        self._running.add(conn)
        try:
            self.join(conn)
            await conn.run(read, stopped=lambda: self.leave(conn))
        finally:  # leaving twice is harmless: the second time finds nobody
            try:
                await self.leave(conn)
            finally:
                self._running.discard(conn)
                conn.mark_finished()

    def join(self, conn: Connection) -> None:
        """Add ``conn`` to its room here, send it its `welcome`, and record its join."""
        self.rooms.setdefault(conn.room, {})[conn.sender] = conn
        conn.tell(welcome_frame(conn.room, conn.sender))
        self.presence.joined(conn.room, conn.sender)

    async def leave(self, conn: Connection) -> None:
        """Remove ``conn`` from its room (deleted when empty) and record its leave, once.

        The backplane's part (a Redis call) runs in a task of its own, shielded:
        a handler cancelled meanwhile (the server or a test client tearing the
        socket down) must neither leave the member in Redis until it expires
        nor cut a Redis command off halfway.
        """
        self._discard(conn)
        task = asyncio.create_task(self._leave(conn.room, conn.sender), name="ws-leave")
        self._leaving.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._leaving.discard)
        await asyncio.shield(task)

    async def _leave(self, room: str, sender: str) -> None:
        if await self.backplane.leave(room, sender):
            self.presence.left(room, sender)

    async def _announce(self, room: str, joined: list[str], left: list[str]) -> None:
        await self.backplane.announce(room, joined, left)

    def _discard(self, conn: Connection) -> None:
        members = self.rooms.get(conn.room)
        if members is not None and members.get(conn.sender) is conn:
            del members[conn.sender]
            if not members:
                del self.rooms[conn.room]

    async def publish(
        self, room: str, kind: Kind, sender: str, data: str | None, *, number: int = 0
    ) -> None:
        """Send a frame to every member of ``room``, on every worker.

        ``number`` is the sender's message count (from 1, see `Connection.published`):
        a retry of a message Redis already took is then not published twice.

        Raises:
            BackplaneUnavailableError: Redis stayed unreachable for WS_PUBLISH_TIMEOUT
                seconds; the frame was not sent.
        """
        body = encode_body(kind, room, sender, data)
        await self.backplane.publish(room, body, sender=sender, number=number)

    def deliver(self, room: str, frame: str) -> None:
        """Queue ``frame`` (already encoded) for every local member of ``room``.

        Its ASGI message is built once and shared. Never awaits: members whose
        queue is full are removed and closed with 1013.
        """
        members = self.rooms.get(room)
        if not members:
            return
        message = send_message(frame)
        dropped = [conn for conn in members.values() if not conn.offer(message)]
        for conn in dropped:
            self._discard(conn)

    @property
    def running(self) -> bool:
        """Whether any connection is being served."""
        return bool(self._running)

    def end_all(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
        """Ask every connection to close with ``code`` (does not wait)."""
        for conn in list(self._running):
            conn.end(code, reason)

    async def close_all(self, timeout: float = 5.0) -> None:
        """Close every connection with 1001 (Going Away) and wait for them to finish."""
        self.end_all()
        running = [conn.wait_finished() for conn in self._running]
        if running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.gather(*running)


def get_hub(app: FastAPI) -> Hub:
    """Return the app's hub.

    Raises:
        RuntimeError: The app's lifespan is not running (e.g. a TestClient used
            outside a `with` block).
    """
    hub: Hub | None = getattr(app.state, "ws_hub", None)
    if hub is None:
        raise RuntimeError("The WebSocket hub is not running: start the app's lifespan first.")
    return hub


def _close_first_on_exit(hub: Hub) -> Callable[[], None]:
    """Close sockets with 1001 before the server closes them itself; return an undo function.

    As soon as uvicorn sees SIGTERM/SIGINT it closes open sockets itself, with
    1012. This hook, chained in front of its handlers, asks every connection
    to close with 1001 and passes the signal on only once they have finished
    (at most `CLOSE_TIMEOUT` seconds later), so 1001 always comes first. A
    second signal is passed on at once (a second Ctrl+C forces uvicorn out).
    It is installed only when the server runs its own Python handlers in the
    main thread; the lifespan's shutdown closes what is left with 1001.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], object]] = {}
    closing: set[asyncio.Task[None]] = set()
    signalled = False

    async def close_then_pass_on(signum: int, frame: FrameType | None) -> None:
        try:
            await hub.close_all(timeout=CLOSE_TIMEOUT)
        finally:
            previous[signum](signum, frame)

    def start_closing(signum: int, frame: FrameType | None) -> None:
        task = loop.create_task(close_then_pass_on(signum, frame), name="ws-close-on-exit")
        closing.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(closing.discard)

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal signalled
        if signalled or not hub.running:
            previous[signum](signum, frame)
            return
        signalled = True
        # A signal handler may run in the middle of the loop's own code: only
        # call_soon_threadsafe is safe here.
        loop.call_soon_threadsafe(start_closing, signum, frame)

    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if callable(current):
            previous[signum] = current
            signal.signal(signum, handler)

    def undo() -> None:
        for signum, original in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, original)

    return undo


@asynccontextmanager
async def running_hub(
    settings: WebSocketSettings, redis: Redis | None = None
) -> AsyncIterator[Hub]:
    """Run a hub (on Redis when ``redis`` is given) until the block ends, then close it.

    On the way out every connection is closed with 1001, the last `presence`
    frames (their leaves) are published, then the backplane stops.
    """
    hub = Hub(settings)
    if redis is not None:
        hub.backplane = RedisBackplane(redis, hub)
    await hub.backplane.start()
    hub.start()
    try:
        yield hub
    finally:
        await hub.close_all()
        await hub.stop()
        await hub.backplane.stop()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the hub (on Redis when the redis block has a client) and close it at shutdown."""
    try:
        async with running_hub(WebSocketSettings(), get_redis(app)) as hub:
            app.state.ws_hub = hub
            undo = _close_first_on_exit(hub)
            try:
                yield
            finally:
                undo()
    finally:
        app.state.ws_hub = None  # only once every socket is closed
