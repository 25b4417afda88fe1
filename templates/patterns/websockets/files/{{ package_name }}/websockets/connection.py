"""One client in one room: its bounded queue and its writer task (see `hub`).

The writer is the only code that sends on the socket. It sends everything
queued each time it wakes up, so a burst of frames costs one task switch,
not one per frame. The client's frames are read in the server's own task for
the connection: one task per connection is added, the writer. Every object
a connection keeps costs memory and the garbage collector's time on each of
its full passes, so an idle one holds an empty list and one future, little else.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from starlette.websockets import WebSocketDisconnect

from .frames import SendMessage, send_message

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
    """What the hub needs from a socket (the router's `AsgiSocket`, or a fake in tests)."""

    @property
    def send(self) -> Callable[[SendMessage], Awaitable[None]]:
        """Send one ASGI message (a `websocket.send`; shared by recipients, never changed).

        The server's ASGI ``send`` itself, or a method that behaves like it.
        """

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

    __slots__ = (
        "_done",
        "_finished",
        "_interrupted",
        "_queue",
        "_queue_size",
        "_reader",
        "_unsent",
        "_wakeup",
        "_writer",
        "close_code",
        "close_reason",
        "ending",
        "published",
        "room",
        "send_timeout",
        "sender",
        "sending_since",
        "socket",
    )

    def __init__(
        self, socket: Socket, room: str, sender: str, *, queue_size: int, send_timeout: float
    ) -> None:
        self.socket = socket
        self.room = room
        self.sender = sender
        self.close_code: int | None = None
        self.close_reason = ""
        # A list and one future, rather than an asyncio.Queue: the writer takes the
        # whole list per wake-up, and an idle connection holds an empty list, no waiter.
        self._queue: list[SendMessage] = []
        self._unsent = 0  # frames queued or taken by the writer, not yet sent
        self._queue_size = queue_size
        self._wakeup: asyncio.Future[None] | None = None  # the writer waits on it when idle
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[Any] | None = None  # the task running `read`, while it does
        self._interrupted = False  # whether `end` cancelled the reader
        self._finished = False  # whether `run` has returned (see `mark_finished`)
        self._done: asyncio.Future[None] | None = None  # made by `wait_finished` if it waits
        self.send_timeout = send_timeout
        self.sending_since: float | None = None  # loop time the current send started
        self.ending = False  # whether the connection is being closed (no frame accepted)
        self.published = 0  # messages sent so far: numbers them, so a retry is recognised

    def offer(self, message: SendMessage) -> bool:
        """Queue ``message`` without waiting; return False if the connection is ending.

        A full queue ends the connection with 1013.
        """
        if self.ending:
            return False
        if self._unsent >= self._queue_size:
            self.end(TRY_AGAIN_LATER, "too slow: outbound queue full")
            return False
        self._queue.append(message)
        self._unsent += 1
        self._wake_writer()
        return True

    def tell(self, frame: str) -> bool:
        """Queue ``frame`` for this connection only (a `welcome` or an `error`); see `offer`."""
        return self.offer(send_message(frame))

    def end(self, code: int | None, reason: str = "") -> None:
        """Ask the connection to stop; ``code`` None means the socket is already gone.

        The first call wins. It never waits: `run` does the closing.
        """
        if self.ending:
            return
        self.close_code = code
        self.close_reason = reason
        self.ending = True
        if self._writer is not None:  # idle, or stuck in a send to a client that stopped reading
            self._writer.cancel()
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task():
            self._interrupted = True  # `run` tells this cancellation from the server's
            reader.cancel()

    async def wait_finished(self) -> None:
        """Wait until the connection has been served to its end (see `mark_finished`)."""
        if self._finished:
            return
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._done)  # a waiter that gives up leaves the future alone

    def mark_finished(self) -> None:
        """Record that the connection has been served to its end; wake `wait_finished`."""
        self._finished = True
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _wake_writer(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    async def _write(self) -> None:
        # The only place that sends on the socket; `end` cancels it.
        # Sends that take longer than send_timeout are caught by the hub's watchdog
        # (cheaper than a timer per send).
        loop = asyncio.get_running_loop()
        send = self.socket.send
        while not self.ending:
            frames = self._queue
            if not frames:
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            self._queue = []
            try:
                for frame in frames:
                    self.sending_since = loop.time()
                    await send(frame)
                    self._unsent -= 1
            except GONE:
                self.end(None)
                return
            finally:
                self.sending_since = None

    async def run(self, read: Reader, stopped: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write queued frames and run ``read`` until either stops or `end` is called.

        Then await ``stopped`` (the hub records the `leave` there, so that a
        stalled close does not delay it), and close the socket with the code
        given to `end`, if any; a socket that is gone or stalled is given up on
        after `CLOSE_TIMEOUT` seconds. Never raises for a socket that went away.
        """
        # `read` runs in this task (the server's, for the connection), the writer in a
        # task of its own. `end` cancels both; this task tells its cancellation from
        # the server's (which must go on) by `_interrupted` and the count `uncancel` returns.
        reader = asyncio.current_task()
        assert reader is not None
        self._writer = asyncio.create_task(self._write())
        failure: BaseException | None = None
        try:
            if not self.ending:
                self._reader = reader
                try:
                    await read()
                finally:
                    self._reader = None
        except asyncio.CancelledError:
            if not self._interrupted or reader.uncancel() > 0:
                raise
        except GONE:
            pass
        except Exception as exc:  # logged below, once the writer has stopped
            failure = exc
        finally:
            writer, self._writer = self._writer, None
            writer.cancel()
            # asyncio.wait never raises the writer's CancelledError in this task.
            await asyncio.wait([writer])
            self._queue = []
            self._unsent = 0
            self._wakeup = None
        if failure is None and not writer.cancelled():
            failure = writer.exception()
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
