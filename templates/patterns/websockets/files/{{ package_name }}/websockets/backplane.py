"""How a room's frames reach every worker: in-process, or through Redis streams.

- `MemoryBackplane` (default): one process; publishing numbers the frame and
  hands it to the local hub.
- `RedisBackplane` (when REDIS_URL is set): every room has a Redis stream.
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
  expired while the worker was cut off) adds it back and announces its `join`
  again, so what clients derived from `join`/`leave` frames converges;
- admission is one script that adds the newcomer only while the room has
  fewer live members than WS_MAX_CONNECTIONS_PER_ROOM, so the limit holds
  across workers.

Every key starts with `key_prefix()` of the redis block, then `:ws:`.
"""

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..redis_client import key_prefix
from .frames import clock_seq, numbered

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

# Shared by every script. KEYS: the room's presence set, counter, stream and
# per-sender message numbers. ARGV[1..5]: the highest seq this worker saw in
# the room, the stream's length, the counter's and the stream's TTL (seconds),
# the presence TTL (milliseconds). Numbers given to Redis are formatted with
# %d: Redis turns Lua numbers into strings with too few digits otherwise.
_LUA_COMMON = """
local presence, counter, stream, sent = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local floor, maxlen = tonumber(ARGV[1]), ARGV[2]
local seq_ttl, stream_ttl, presence_ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])

local function int(n) return string.format('%d', n) end

-- Redis's clock, in microseconds and in milliseconds.
local function clock()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return us, math.floor(us / 1000)
end

-- Number `body` (a frame without seq and prev) as the room's next frame and
-- append it to the room's stream, under the id `<seq>-0`. Same format as
-- frames.numbered.
local function append(body)
  local last = redis.call('GET', counter)
  local seq, prev
  if last then
    seq, prev = tonumber(last) + 1, last
  else
    -- A new counter (a new room, or Redis lost it): start from the clock, above
    -- what this worker saw and above the stream, so that seq never goes back.
    seq, prev = math.max(clock(), floor + 1), 'null'
    local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    if top then seq = math.max(seq, tonumber(string.match(top[1], '^%d+')) + 1) end
  end
  local id = int(seq)
  redis.call('SET', counter, id, 'EX', seq_ttl)
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id .. '-0',
    'f', '{"seq":' .. id .. ',"prev":' .. prev .. ',' .. string.sub(body, 2), 'p', prev)
  redis.call('EXPIRE', stream, stream_ttl)
  return id
end

-- Append a `join` or `leave` frame (same format as frames.encode_body).
local function announce(kind, room, member, ms)
  append('{"type":"' .. kind .. '","room":' .. cjson.encode(room) .. ',"sender":'
    .. cjson.encode(member) .. ',"ts":' .. int(ms) .. ',"data":null}')
end
"""

# ARGV[6]: the frame without seq and prev; ARGV[7]: the sender; ARGV[8]: the
# sender's message number (0: not a numbered message). Returns the frame's
# seq, or nil for a retry of a message already published.
PUBLISH_SCRIPT = (
    _LUA_COMMON
    + """
if ARGV[8] ~= '0' then
  if tonumber(ARGV[8]) <= tonumber(redis.call('HGET', sent, ARGV[7]) or '0') then
    return false
  end
  redis.call('HSET', sent, ARGV[7], ARGV[8])
  redis.call('EXPIRE', sent, stream_ttl)
end
return append(ARGV[6])
"""
)

# ARGV[6]: the newcomer; ARGV[7]: the room's limit. Admits it only while the
# room has fewer live members (a retry of its own admission is admitted
# again). Returns the room's last seq (where to start reading), nil if full.
ADMIT_SCRIPT = (
    _LUA_COMMON
    + """
local _, now = clock()
if not redis.call('ZSCORE', presence, ARGV[6]) then
  if redis.call('ZCOUNT', presence, '(' .. int(now), '+inf') >= tonumber(ARGV[7]) then
    return false
  end
end
redis.call('ZADD', presence, int(now + presence_ttl), ARGV[6])
redis.call('PEXPIRE', presence, int(2 * presence_ttl))
return redis.call('GET', counter) or '0'
"""
)

# ARGV[6]: the `leave` frame without seq and prev; ARGV[7]: who leaves;
# ARGV[8]: '1' to announce it. Removal and announcement are one step, so a
# member is announced once, by its own worker or by the one that expired it.
LEAVE_SCRIPT = (
    _LUA_COMMON
    + """
if redis.call('ZREM', presence, ARGV[7]) == 0 then return 0 end
redis.call('HDEL', sent, ARGV[7])
if ARGV[8] == '1' then append(ARGV[6]) end
return 1
"""
)

# ARGV[6]: the room; ARGV[7]: '1' to drop expired members; ARGV[8..]: this
# worker's members. Refreshes them (announcing again those that were missing),
# then drops and announces the expired ones. Returns {announced again, expired}.
HEARTBEAT_SCRIPT = (
    _LUA_COMMON
    + """
local room = ARGV[6]
local _, now = clock()
local back = 0
for i = 8, #ARGV do
  if redis.call('ZADD', presence, int(now + presence_ttl), ARGV[i]) == 1 then
    announce('join', room, ARGV[i], now)
    back = back + 1
  end
end
redis.call('PEXPIRE', presence, int(2 * presence_ttl))
local gone = {}
if ARGV[7] == '1' then
  gone = redis.call('ZRANGEBYSCORE', presence, '-inf', int(now))
  for _, member in ipairs(gone) do
    redis.call('ZREM', presence, member)
    redis.call('HDEL', sent, member)
    announce('leave', room, member, now)
  end
end
return {back, #gone}
"""
)

# The live members of the room, on Redis's clock.
MEMBERS_SCRIPT = (
    _LUA_COMMON
    + """
local _, now = clock()
return redis.call('ZRANGEBYSCORE', presence, '(' .. int(now), '+inf')
"""
)


class BackplaneUnavailableError(Exception):
    """The backplane (Redis) could not be reached."""


class Backplane(Protocol):
    """What the hub needs to reach the other workers."""

    async def start(self) -> None:
        """Start background work (reader, heartbeat)."""

    async def stop(self) -> None:
        """Stop background work."""

    async def admit(self, room: str, sender: str, limit: int) -> bool:
        """Add ``sender`` to ``room``'s presence if the room has fewer than ``limit`` members.

        Raises:
            BackplaneUnavailableError: Redis is unreachable; nobody was added.
        """

    async def release(self, room: str, sender: str) -> None:
        """Remove an admitted ``sender`` that never joined, without announcing it."""

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number ``body`` (a frame without `seq`) and deliver it to the room everywhere.

        ``sender`` and ``number`` (its messages, counted from 1) let the backplane
        recognise a retry of a message it already published.

        Raises:
            BackplaneUnavailableError: Redis is unreachable; the frame was not sent.
        """

    async def leave(self, room: str, sender: str, body: str) -> None:
        """Remove ``sender`` from the room's presence and publish ``body`` (its `leave`).

        Never raises: a member that cannot be removed expires (see WS_PRESENCE_TTL_SECONDS).
        """

    async def members(self, room: str) -> list[str]:
        """Return the senders present in ``room``, sorted.

        Raises:
            BackplaneUnavailableError: Redis is unreachable.
        """


class MemoryBackplane:
    """One process only: frames go straight to the local hub, numbered here."""

    def __init__(self, hub: "Hub") -> None:
        self._hub = hub
        self._present: dict[str, set[str]] = {}
        self._last: dict[str, int] = {}  # seq of each occupied room's last frame
        self._highest = 0  # the highest seq handed out, so a re-created room starts above it

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def admit(self, room: str, sender: str, limit: int) -> bool:
        """Add ``sender`` unless the room is full (atomic: nothing awaits in between)."""
        present = self._present.get(room, set())
        if len(present) >= limit:
            return False
        self._present[room] = present
        present.add(sender)
        return True

    async def release(self, room: str, sender: str) -> None:
        """Forget ``sender`` without a frame."""
        self._forget(room, sender)

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number the frame and deliver it to the local members (nothing is ever retried)."""
        del sender, number
        self._hub.deliver(room, self._numbered(room, body))

    async def leave(self, room: str, sender: str, body: str) -> None:
        """Forget ``sender`` and announce it, if it was present."""
        if sender in self._present.get(room, ()):
            self._hub.deliver(room, self._numbered(room, body))
            self._forget(room, sender)

    async def members(self, room: str) -> list[str]:
        """Return the members of ``room``."""
        return sorted(self._present.get(room, ()))

    def _numbered(self, room: str, body: str) -> str:
        prev = self._last.get(room)
        seq = max(clock_seq(), self._highest + 1) if prev is None else prev + 1
        self._highest = max(self._highest, seq)
        if room in self._present:  # the counters of empty rooms are not kept (bounded memory)
            self._last[room] = seq
        return numbered(seq, prev, body)

    def _forget(self, room: str, sender: str) -> None:
        present = self._present.get(room)
        if present is None:
            return
        present.discard(sender)
        if not present:
            del self._present[room]
            self._last.pop(room, None)


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
        # Held while a heartbeat refreshes members and while one is removed, so that a
        # refresh never adds back (and announces) a member removed at the same time.
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
        await self._remove(room, sender, "", announce=False)

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number the frame and append it to the room's stream (one script, retried)."""
        keys = self._keys(room)

        async def attempt() -> Any:
            return await self._publish(keys=keys, args=[*self._common(room), body, sender, number])

        await with_retries(attempt, self._settings.ws_publish_timeout)

    async def leave(self, room: str, sender: str, body: str) -> None:
        """Remove ``sender`` from the presence set and publish its `leave`, in one script."""
        await self._remove(room, sender, body, announce=True)

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

    async def _remove(self, room: str, sender: str, body: str, *, announce: bool) -> None:
        members = self._members.get(room)
        if members is None or sender not in members:
            return
        args = [*self._common(room), body, sender, "1" if announce else "0"]
        members.discard(sender)
        if not members:  # the room's last member here: stop reading it
            del self._members[room]
            self._cursors.pop(room, None)
        with self._logged(f"removing {sender} from room {room} (it expires instead)"):
            async with self._presence_lock, asyncio.timeout(ATTEMPT_TIMEOUT):
                await self._leave(keys=self._keys(room), args=args)

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
