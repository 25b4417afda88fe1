"""Rooms that span workers and machines: one Redis stream per room (when REDIS_URL is set).

Every room has a Redis stream.
  A Lua script numbers each frame (the room's counter) and appends it to the
  stream in one atomic step, trimmed to about WS_STREAM_MAXLEN frames. Each
  worker reads the streams of the rooms it has members in with one blocking
  XREAD, from the last frame it delivered: after any cut (Redis restarting, a
  network failure, a slow reconnect) it resumes exactly where it stopped, so
  nothing published while it was away is skipped, as long as the room did not
  get more than WS_STREAM_MAXLEN frames in the meantime.

Guarantees on Redis:

- a message is published at most once: the sender's worker retries for up to
  WS_PUBLISH_TIMEOUT seconds while Redis is unreachable, and Redis drops a
  retry of a message it already took (each connection numbers its messages);
  if every attempt fails, the sender gets an `error` frame;
- a frame Redis took reaches every worker reading the room, in order
  (at-least-once per worker, and each worker skips frames it already
  delivered), unless Redis loses it first: a restart without persistence
  before every worker read it, or trimming past WS_STREAM_MAXLEN while a
  worker is cut off. Clients see such losses from `prev` (see `frames`);
- `seq` never goes backwards, even after Redis restarts empty (see `frames`);
- presence is one sorted set per room whose scores are expiry times on
  Redis's clock. Each worker refreshes its members every third of
  WS_PRESENCE_TTL_SECONDS, and drops the expired members of its rooms (a
  crashed worker's) in the same step, announcing their `leave`. A worker that
  finds one of its own members missing (Redis restarted empty, or the member
  expired while the worker was cut off) adds it back and announces it as
  joined again, so what clients derived from `presence` frames converges.
  Each refresh announces a room's changes in one `presence` frame, and so
  does each batch of this worker's own joins and leaves (see `presence`);
- admission is one script that adds the newcomer only while the room has
  fewer live members than WS_MAX_CONNECTIONS_PER_ROOM, so the limit holds
  across workers.

Every key starts with `key_prefix()` of the redis block, then `:ws:`. The scripts are in
`redis_scripts`.
"""

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..redis_client import key_prefix
from .backplane import BackplaneUnavailableError
from .frames import presence_body
from .redis_scripts import (
    ADMIT_SCRIPT,
    HEARTBEAT_SCRIPT,
    LEAVE_SCRIPT,
    MEMBERS_SCRIPT,
    PUBLISH_SCRIPT,
)

if TYPE_CHECKING:
    from .hub import Hub

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEQ_TTL_SECONDS = 24 * 3600  # a room's counter is forgotten after a quiet day...
STREAM_TTL_SECONDS = 3600  # ...and its backlog after a quiet hour
WAKE_TTL_SECONDS = 60
READ_BLOCK_SECONDS = 5.0  # one XREAD waits this long for frames...
STALE_AFTER = READ_BLOCK_SECONDS + 5.0  # ...and a link silent for this long is dropped
READ_BATCH = 256  # frames taken per room and XREAD
ATTEMPT_TIMEOUT = 5.0  # longest one Redis call may take (a half-open link never answers)
RETRY_BASE = 0.05
RETRY_CAP = 1.0
BACKOFF_BASE = 0.1
BACKOFF_CAP = 2.0

# Failures that a retry can cure: the link broke, or Redis is still loading
# (BusyLoadingError is a ConnectionError). Any other RedisError (a script
# error, a key of the wrong type) would fail the same way again.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


async def with_retries(attempt: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Return what ``attempt`` returns, retrying transient Redis failures for ``timeout`` seconds.

    A new attempt only starts before the deadline, with exponential backoff;
    one under way is interrupted only after ATTEMPT_TIMEOUT (a link that hangs).

    Raises:
        BackplaneUnavailableError: Every attempt failed, or one failed for good.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = RETRY_BASE
    while True:
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                return await attempt()
        except TRANSIENT as exc:
            if loop.time() + delay > deadline:
                raise BackplaneUnavailableError(f"Redis is unreachable: {exc}") from exc
        except RedisError as exc:
            raise BackplaneUnavailableError(f"Redis refused: {exc}") from exc
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_CAP)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBackplane:
    """Rooms that span workers and machines, through one Redis stream per room.

    Args:
        redis: The shared client (from the redis block).
        hub: The local hub, which frames are delivered to (its settings apply).
    """

    def __init__(self, redis: Redis, hub: "Hub") -> None:
        self._redis = redis
        self._hub = hub
        self._settings = hub.settings
        self._prefix = f"{key_prefix()}:ws"
        self._stream_prefix = self._key("stream", "")
        # Writing to this stream wakes the reader out of its blocking XREAD.
        self._wake_key = self._key("wake", secrets.token_hex(8))
        self._wake_id = "0-0"
        self._publish = redis.register_script(PUBLISH_SCRIPT)
        self._admit = redis.register_script(ADMIT_SCRIPT)
        self._leave = redis.register_script(LEAVE_SCRIPT)
        self._beat = redis.register_script(HEARTBEAT_SCRIPT)
        self._list = redis.register_script(MEMBERS_SCRIPT)
        self._members: dict[str, set[str]] = {}  # this worker's members, admitted and not gone
        self._cursors: dict[str, int] = {}  # rooms read here -> seq of the last frame delivered
        # Held while a heartbeat refreshes members and while leavers are removed, so that
        # a refresh never adds back (and announces) a member removed at the same time.
        self._presence_lock = asyncio.Lock()
        self._beat_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()
        self.reconnects = 0
        self.gaps = 0  # frames found missing from a stream (trimmed, or lost by Redis)

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"

    def _keys(self, room: str) -> list[str]:
        return [self._key(kind, room) for kind in ("presence", "seq", "stream", "sent")]

    def _common(self, room: str) -> list[int | float | str]:
        return [
            self._cursors.get(room, 0),
            self._settings.ws_stream_maxlen,
            SEQ_TTL_SECONDS,
            STREAM_TTL_SECONDS,
            int(self._settings.ws_presence_ttl_seconds * 1000),
        ]

    async def start(self) -> None:
        """Start the reader and the presence heartbeat."""
        self._tasks = [
            asyncio.create_task(self._read(), name="ws-redis-reader"),
            asyncio.create_task(self._heartbeat(), name="ws-redis-heartbeat"),
        ]

    async def stop(self) -> None:
        """Stop the reader and the heartbeat."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(1):
                await self._redis.delete(self._wake_key)

    async def admit(self, room: str, sender: str, limit: int) -> bool:
        """Add ``sender`` if the room has fewer than ``limit`` live members, on every worker."""
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                position = await self._admit(
                    keys=self._keys(room), args=[*self._common(room), sender, limit]
                )
        except (RedisError, OSError) as exc:
            raise BackplaneUnavailableError(f"Redis did not answer: {exc}") from exc
        if position is None:
            return False
        self._members.setdefault(room, set()).add(sender)
        if room not in self._cursors:
            # Read the room from its last frame now, before the newcomer's `join` is published.
            self._cursors[room] = int(position)
            await self._wake()
        return True

    async def release(self, room: str, sender: str) -> None:
        """Remove an admitted ``sender`` that never joined (no frame)."""
        await self.leave(room, sender)

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number the frame and append it to the room's stream (one script, retried)."""
        keys = self._keys(room)

        async def attempt() -> Any:
            return await self._publish(keys=keys, args=[*self._common(room), body, sender, number])

        await with_retries(attempt, self._settings.ws_publish_timeout)

    async def leave(self, room: str, sender: str) -> bool:
        """Remove ``sender`` from the presence set; return whether this worker announces it.

        False if it was not a member here, or Redis no longer had it (another
        worker expired and announced it), or Redis is unreachable (it expires).
        """
        members = self._members.get(room)
        if members is None or sender not in members:
            return False
        members.discard(sender)
        if not members:  # the room's last member here: stop reading it
            del self._members[room]
            self._cursors.pop(room, None)
        removed = 0
        with self._logged(f"removing {sender} from room {room} (it expires instead)"):
            async with self._presence_lock, asyncio.timeout(ATTEMPT_TIMEOUT):
                args = [*self._common(room), sender]
                removed = await self._leave(keys=self._keys(room), args=args)
        return bool(removed)

    async def announce(self, room: str, joined: list[str], left: list[str]) -> None:
        """Publish one `presence` frame (one attempt: presence is not retried)."""
        body = presence_body(room, joined, left)
        with self._logged(f"announcing {len(joined)} join(s), {len(left)} leave(s) in {room}"):
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                await self._publish(keys=self._keys(room), args=[*self._common(room), body, "", 0])

    async def members(self, room: str) -> list[str]:
        """Return the live members of ``room`` on every worker."""
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                found: list[bytes] = await self._list(
                    keys=self._keys(room), args=self._common(room)
                )
        except (RedisError, OSError) as exc:
            raise BackplaneUnavailableError(f"Redis did not answer: {exc}") from exc
        return sorted(_text(member) for member in found)

    @contextlib.contextmanager
    def _logged(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            logger.warning("Redis: %s failed: %s", what, exc)

    async def _wake(self) -> None:
        # If this fails, so does the reader, which starts over with every room anyway.
        with self._logged("waking the reader"):
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.xadd(self._wake_key, {"w": "1"}, maxlen=1, approximate=False)
                    pipe.expire(self._wake_key, WAKE_TTL_SECONDS)
                    await pipe.execute()

    async def _read(self) -> None:
        """Deliver every room's frames; after any failure, reconnect and resume where it stopped."""
        failures = 0
        while True:
            try:
                async with asyncio.timeout(ATTEMPT_TIMEOUT):
                    await self._redis.ping()
                if failures:
                    self.reconnects += 1
                    logger.warning(
                        "Redis is back after %d failed attempt(s): resuming %d room(s) "
                        "from the last frame delivered",
                        failures,
                        len(self._cursors),
                    )
                    self._beat_now.set()  # register presence again at once (Redis may be empty)
                failures = 0
                self.connected.set()
                while True:
                    self._deliver(await self._next_batch())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure must lead to a retry, never to silence
                failures += 1
                self.connected.clear()
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures - 1, 10))
                delay *= random.uniform(0.5, 1.0)
                logger.warning(
                    "Redis link lost (%s: %s); retrying in %.1f s (attempt %d). Frames wait "
                    "in Redis meanwhile (up to WS_STREAM_MAXLEN per room).",
                    type(exc).__name__,
                    exc,
                    delay,
                    failures,
                )
                await asyncio.sleep(delay)

    async def _next_batch(self) -> list[Any]:
        streams: dict[str, str] = {self._wake_key: self._wake_id}
        for room, seq in self._cursors.items():
            streams[self._key("stream", room)] = f"{seq}-0"
        async with asyncio.timeout(STALE_AFTER):
            # RESP2 reply: [[stream, [(id, {field: value}), ...]], ...], or None after the block.
            found: Any = await self._redis.xread(
                streams,  # type: ignore[arg-type]  # redis-py types keys as bytes | str | memoryview
                count=READ_BATCH,
                block=int(READ_BLOCK_SECONDS * 1000),
            )
        return list(found or [])

    def _deliver(self, batch: list[Any]) -> None:
        for name, entries in batch:
            key = _text(name)
            if key == self._wake_key:
                self._wake_id = _text(entries[-1][0])
                continue
            room = key.removeprefix(self._stream_prefix)
            for entry_id, fields in entries:
                seq = int(_text(entry_id).partition("-")[0])
                cursor = self._cursors.get(room)
                if cursor is None or seq <= cursor:
                    continue  # no member here any more, or delivered already (a late reply)
                # The cursor moves first: a frame that fails to deliver is not retried forever.
                self._cursors[room] = seq
                self._check_gap(room, cursor, _text(fields[b"p"]))
                self._hub.deliver(room, _text(fields[b"f"]))

    def _check_gap(self, room: str, cursor: int, prev: str) -> None:
        if prev == (str(cursor) if cursor else "null"):
            return
        self.gaps += 1
        if prev == "null":
            logger.warning(
                "Room %s: its numbering restarted after seq %d (Redis restarted empty, or the "
                "room was quiet for a day); frames not read before may be lost, clients see "
                "prev=null",
                room,
                cursor,
            )
        else:
            logger.warning(
                "Room %s: frames after seq %d up to %s were trimmed before this worker read "
                "them (raise WS_STREAM_MAXLEN); clients see the gap from prev",
                room,
                cursor,
                prev,
            )

    async def _heartbeat(self) -> None:
        """Refresh this worker's members; drop (and announce) the expired members of its rooms.

        Expired members are only dropped after a clean refresh: right after Redis
        comes back, the other workers get one period to refresh their own first.
        """
        period = self._settings.ws_presence_ttl_seconds / 3
        healthy = False
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period):
                    await self._beat_now.wait()
            self._beat_now.clear()
            try:
                await self._refresh(reap=healthy)
            except Exception as exc:  # never stop refreshing: the members would expire
                if healthy:
                    logger.warning(
                        "Redis: refreshing presence failed (%s: %s); retrying every %.1f s",
                        type(exc).__name__,
                        exc,
                        period,
                    )
                healthy = False
            else:
                healthy = True

    async def _refresh(self, *, reap: bool) -> None:
        async with self._presence_lock, asyncio.timeout(ATTEMPT_TIMEOUT):
            rooms = {room: sorted(members) for room, members in self._members.items()}
            if not rooms:
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for room, members in rooms.items():
                    args = [*self._common(room), room, int(reap), *members]
                    await self._beat(keys=self._keys(room), args=args, client=pipe)
                results: list[list[int]] = await pipe.execute()
        for room, (back, gone) in zip(rooms, results, strict=True):
            if back:
                logger.warning("Room %s: %d member(s) were missing from Redis: back", room, back)
            if gone:
                logger.info("Room %s: %d member(s) of a stopped worker expired: left", room, gone)
