"""The rooms of one worker: bounded queues, one writer per connection, no waiting on the network.

A broadcast never awaits a socket. `Hub.deliver` puts the encoded frame into
each member's bounded queue with `put_nowait`; each connection has exactly
one writer task, the only code that sends on its socket. A client whose
queue is full (it stopped reading, or reads too slowly) is removed from its
room at once and closed with 1013 (Try Again Later): one slow client can
neither delay the others nor make the server buffer without bound.

A connection's life: `Hub.admit` reserves its place in the room (atomically
on every worker, see WS_MAX_CONNECTIONS_PER_ROOM), `Hub.serve` announces its
`join`, runs it and announces its `leave`.
"""

import asyncio
import contextlib
import logging
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any, Protocol

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.websockets import WebSocketDisconnect

from ..redis_client import get_redis
from .admission import ConnectionCounter
from .backplane import Backplane, BackplaneUnavailableError, MemoryBackplane, RedisBackplane
from .frames import FrameType as Kind
from .frames import encode_body
from .settings import WebSocketSettings

logger = logging.getLogger(__name__)

# Close codes (RFC 6455 section 7.4.1).
GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013

# How long the close handshake may take before the socket is given up on.
CLOSE_TIMEOUT = 2.0

# What a send on a socket that is closed, closing or broken raises: all mean "gone".
GONE = (WebSocketDisconnect, RuntimeError, OSError)

# Reads a connection's incoming frames until the client leaves.
Reader = Callable[[], Coroutine[Any, Any, None]]


class Socket(Protocol):
    """What the hub needs from a socket (Starlette's WebSocket, or a fake in tests)."""

    async def send_text(self, data: str) -> None:
        """Send one text frame."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Start the close handshake."""


class Connection:
    """One client in one room: its bounded queue and its writer task.

    Args:
        socket: Where frames are sent.
        room: The room joined.
        sender: The id other members see (unique per connection).
        queue_size: Frames buffered before the client counts as too slow.
        send_timeout: Seconds one send may take before the client counts as too slow.
    """

    def __init__(
        self, socket: Socket, room: str, sender: str, *, queue_size: int, send_timeout: float
    ) -> None:
        self.socket = socket
        self.room = room
        self.sender = sender
        self.close_code: int | None = None
        self.close_reason = ""
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.send_timeout = send_timeout
        self.sending_since: float | None = None  # loop time the current send started
        self._ending = asyncio.Event()
        self.finished = asyncio.Event()
        self.published = 0  # messages sent so far: numbers them, so a retry is recognised

    @property
    def ending(self) -> bool:
        """Whether the connection is being closed (no frame is accepted any more)."""
        return self._ending.is_set()

    def offer(self, frame: str) -> bool:
        """Queue ``frame`` without waiting; return False if the connection is ending.

        A full queue ends the connection with 1013.
        """
        if self._ending.is_set():
            return False
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.end(TRY_AGAIN_LATER, "too slow: outbound queue full")
            return False
        return True

    def end(self, code: int | None, reason: str = "") -> None:
        """Ask the connection to stop; ``code`` None means the socket is already gone.

        The first call wins. It never waits: `run` does the closing.
        """
        if self._ending.is_set():
            return
        self.close_code = code
        self.close_reason = reason
        self._ending.set()

    async def _write(self) -> None:
        # The only place that sends on the socket. Sends that take longer than
        # send_timeout are caught by the hub's watchdog (cheaper than a timer per send).
        loop = asyncio.get_running_loop()
        while True:
            frame = await self._queue.get()
            self.sending_since = loop.time()
            try:
                await self.socket.send_text(frame)
            except GONE:
                self.end(None)
                return
            finally:
                self.sending_since = None

    async def run(self, read: Reader, stopped: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write queued frames and run ``read`` until either stops or `end` is called.

        Then await ``stopped`` (the hub announces the `leave` there, so that a
        stalled close does not delay it), and close the socket with the code
        given to `end`, if any; a socket that is gone or stalled is given up on
        after `CLOSE_TIMEOUT` seconds. Never raises for a socket that went away.
        """
        tasks = [
            asyncio.create_task(self._write()),
            asyncio.create_task(read()),
            asyncio.create_task(self._ending.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            # asyncio.wait, unlike gather, never raises a child's CancelledError in
            # place of the one cancelling this task (which the server must see).
            await asyncio.wait(tasks)
            self._drop_queued()
        for task in tasks:
            failure = None if task.cancelled() else task.exception()
            if isinstance(failure, Exception) and not isinstance(failure, GONE):
                logger.error("WebSocket connection %s failed", self.sender, exc_info=failure)
                self.end(1011, "internal error")
        self.end(None)  # the client went away, if nothing else ended it
        if stopped is not None:
            await stopped()
        if self.close_code is not None:
            with contextlib.suppress(TimeoutError, *GONE):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.socket.close(self.close_code, self.close_reason)

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


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
        self._running: set[Connection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the watchdog that closes clients whose send hangs (see WS_SEND_TIMEOUT)."""
        self._watchdog = asyncio.create_task(self._watch(), name="ws-send-watchdog")

    async def stop(self) -> None:
        """Stop the watchdog."""
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

        The `leave` is announced as soon as the connection stops, before its close
        handshake (which a stalled client can make last `CLOSE_TIMEOUT` seconds).
        """
        self._running.add(conn)
        try:
            await self.join(conn)
            await conn.run(read, stopped=lambda: self.leave(conn))
        finally:  # leaving twice is harmless: the second time finds nobody
            try:
                await self.leave(conn)
            finally:
                self._running.discard(conn)
                conn.finished.set()

    async def join(self, conn: Connection) -> None:
        """Add ``conn`` to its room here and announce it with a `join` frame."""
        self.rooms.setdefault(conn.room, {})[conn.sender] = conn
        await self.announce(conn.room, "join", conn.sender)

    async def leave(self, conn: Connection) -> None:
        """Remove ``conn`` from its room (deleted when empty) and announce a `leave` frame."""
        self._discard(conn)
        await self.backplane.leave(
            conn.room, conn.sender, encode_body("leave", conn.room, conn.sender, None)
        )

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

    async def announce(self, room: str, kind: Kind, sender: str) -> None:
        """Publish a frame without data (a `join`); if the backplane is down, log it and go on."""
        try:
            await self.publish(room, kind, sender, None)
        except BackplaneUnavailableError as exc:
            logger.warning("Could not announce %s of %s in room %s: %s", kind, sender, room, exc)

    def deliver(self, room: str, frame: str) -> None:
        """Queue ``frame`` (already encoded) for every local member of ``room``.

        Never awaits: members whose queue is full are removed and closed with 1013.
        """
        members = self.rooms.get(room)
        if not members:
            return
        dropped = [conn for conn in members.values() if not conn.offer(frame)]
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
        running = [conn.finished.wait() for conn in self._running]
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

    On the way out every connection is closed with 1001 and announces its
    `leave`, then the backplane stops.
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
