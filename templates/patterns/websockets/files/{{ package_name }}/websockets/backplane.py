"""How a room's frames reach every worker: in-process, or through Redis pub/sub.

- `MemoryBackplane` (default): one process; publishing numbers the frame and
  hands it to the local hub.
- `RedisBackplane` (when REDIS_URL is set): each worker subscribes to the
  channels of the rooms it has members in. A Lua script numbers each frame
  (one counter per room) and publishes it in one round trip, so every worker
  sees the same order and sequence numbers. Presence lives in one sorted set
  per room, refreshed by a heartbeat, so a crashed worker's members expire.

Redis pub/sub delivers at most once: frames published while a worker is cut
off from Redis do not reach that worker's clients. The listener reconnects
on its own (exponential backoff with jitter), resubscribes to every live room
and logs each step, and it pings Redis so that a silent half-open connection
is noticed too.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .frames import numbered

if TYPE_CHECKING:
    from .hub import Hub

logger = logging.getLogger(__name__)

# Keys and channels are namespaced by the project's package, so apps can share a Redis.
PREFIX = f"{__name__.partition('.')[0]}:ws"
CONTROL_CHANNEL = f"{PREFIX}:control"

SEQ_TTL_SECONDS = 24 * 3600  # a room's counter is forgotten after a quiet day
PRESENCE_TTL = 30.0  # a member not refreshed for this long (worker crashed) is dropped
HEARTBEAT_EVERY = 10.0
PING_EVERY = 5.0  # the listener pings Redis this often...
STALE_AFTER = 15.0  # ...and reconnects if nothing came back for this long
BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0

# KEYS[1]: the room's counter, KEYS[2]: its channel; ARGV[1]: the frame without
# "seq", ARGV[2]: the counter's TTL. Same format as frames.numbered.
PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2))
return seq
"""


class BackplaneUnavailableError(Exception):
    """The backplane (Redis) could not be reached."""


class Backplane(Protocol):
    """What the hub needs to reach the other workers."""

    async def start(self) -> None:
        """Start background work (listeners, heartbeats)."""

    async def stop(self) -> None:
        """Stop background work."""

    async def publish(self, room: str, body: str) -> None:
        """Number ``body`` (a frame without `seq`) and deliver it to the room everywhere."""

    async def room_changed(self, room: str) -> None:
        """React to ``room`` getting its first local member or losing its last."""

    async def add_member(self, room: str, sender: str) -> None:
        """Record ``sender`` as present in ``room``."""

    async def remove_member(self, room: str, sender: str) -> None:
        """Forget ``sender`` in ``room``."""

    async def members(self, room: str) -> list[str]:
        """Return the senders present in ``room``, sorted."""

    async def count(self, room: str) -> int:
        """Return how many connections ``room`` has."""


class MemoryBackplane:
    """One process only: frames go straight to the local hub."""

    def __init__(self, hub: "Hub") -> None:
        self._hub = hub
        self._seq: dict[str, int] = {}

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def publish(self, room: str, body: str) -> None:
        """Number the frame and deliver it to the local members."""
        seq = self._seq.get(room, 0) + 1
        self._seq[room] = seq
        self._hub.deliver(room, numbered(seq, body))

    async def room_changed(self, room: str) -> None:
        """Forget the counter of a room that emptied."""
        if room not in self._hub.rooms:
            self._seq.pop(room, None)

    async def add_member(self, room: str, sender: str) -> None:
        """Presence is the hub's own registry."""

    async def remove_member(self, room: str, sender: str) -> None:
        """Presence is the hub's own registry."""

    async def members(self, room: str) -> list[str]:
        """Return the local members of ``room``."""
        return sorted(self._hub.rooms.get(room, {}))

    async def count(self, room: str) -> int:
        """Return the number of local members of ``room``."""
        return len(self._hub.rooms.get(room, {}))


def channel(room: str) -> str:
    """Return the pub/sub channel of ``room``."""
    return f"{PREFIX}:room:{room}"


def _presence_key(room: str) -> str:
    return f"{PREFIX}:presence:{room}"


def _seq_key(room: str) -> str:
    return f"{PREFIX}:seq:{room}"


_CHANNEL_PREFIX = channel("")


class RedisBackplane:
    """Rooms that span workers and machines, through Redis pub/sub.

    Args:
        redis: The shared client (from the redis block).
        hub: The local hub, which frames are delivered to.
    """

    def __init__(self, redis: Redis, hub: "Hub") -> None:
        self._redis = redis
        self._hub = hub
        self._script = redis.register_script(PUBLISH_SCRIPT)
        self._pubsub: PubSub | None = None
        self._subscribed: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()
        self.reconnects = 0

    async def start(self) -> None:
        """Start the listener and the presence heartbeat; wait (briefly) for the subscription."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="ws-redis-listener"),
            asyncio.create_task(self._heartbeat(), name="ws-redis-heartbeat"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.connected.wait()

    async def stop(self) -> None:
        """Stop the listener and the heartbeat."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def publish(self, room: str, body: str) -> None:
        """Number the frame and publish it, atomically (one round trip)."""
        try:
            await self._script(keys=[_seq_key(room), channel(room)], args=[body, SEQ_TTL_SECONDS])
        except (RedisError, OSError) as exc:
            raise BackplaneUnavailableError(f"Redis did not take the message: {exc}") from exc

    async def room_changed(self, room: str) -> None:
        """Subscribe to a room that got its first member here, or unsubscribe from one emptied.

        Waits until Redis confirms a new subscription, so that the `join` frame
        published next is seen here too. If Redis is down, the listener
        subscribes when it reconnects.
        """
        confirmed: asyncio.Event | None = None
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return
            wanted = room in self._hub.rooms
            try:
                if wanted and room not in self._subscribed:
                    confirmed = self._confirmed[room] = asyncio.Event()
                    self._subscribed.add(room)
                    await pubsub.subscribe(channel(room))
                elif not wanted and room in self._subscribed:
                    self._subscribed.discard(room)
                    self._confirmed.pop(room, None)
                    await pubsub.unsubscribe(channel(room))
            except (RedisError, OSError) as exc:
                logger.warning("Redis pub/sub: (un)subscribing room %s failed: %s", room, exc)
                return
        if confirmed is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await confirmed.wait()

    async def add_member(self, room: str, sender: str) -> None:
        """Add ``sender`` to the room's presence set, with an expiry the heartbeat renews."""
        with self._logged("recording presence"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(_presence_key(room), {sender: time.time() + PRESENCE_TTL})
                pipe.expire(_presence_key(room), int(PRESENCE_TTL * 2))
                await pipe.execute()

    async def remove_member(self, room: str, sender: str) -> None:
        """Remove ``sender`` from the room's presence set."""
        with self._logged("removing presence"):
            await self._redis.zrem(_presence_key(room), sender)

    async def members(self, room: str) -> list[str]:
        """Return the members of ``room`` on every worker (expired ones are dropped)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(_presence_key(room), "-inf", time.time())
                pipe.zrange(_presence_key(room), 0, -1)
                results: list[Any] = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BackplaneUnavailableError(f"Redis did not answer: {exc}") from exc
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in results[1])

    async def count(self, room: str) -> int:
        """Return how many live members ``room`` has on every worker."""
        try:
            found: int = await self._redis.zcount(_presence_key(room), time.time(), "+inf")
        except (RedisError, OSError) as exc:
            raise BackplaneUnavailableError(f"Redis did not answer: {exc}") from exc
        return found

    @contextlib.contextmanager
    def _logged(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            logger.warning("Redis: %s failed: %s", what, exc)

    async def _refresh_presence(self) -> None:
        expiry = time.time() + PRESENCE_TTL
        rooms = {room: list(members) for room, members in self._hub.rooms.items()}
        if not rooms:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for room, senders in rooms.items():
                pipe.zadd(_presence_key(room), dict.fromkeys(senders, expiry))
                pipe.expire(_presence_key(room), int(PRESENCE_TTL * 2))
            await pipe.execute()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            with self._logged("refreshing presence"):
                await self._refresh_presence()

    async def _listen(self) -> None:
        """Deliver published frames to the hub; reconnect with backoff whenever the link fails."""
        failures = 0
        while True:
            pubsub = self._redis.pubsub()
            delay = BACKOFF_BASE
            try:
                async with self._lock:
                    rooms = set(self._hub.rooms)
                    self._confirmed = {room: asyncio.Event() for room in rooms}
                    await pubsub.subscribe(CONTROL_CHANNEL, *(channel(room) for room in rooms))
                    self._pubsub = pubsub
                    self._subscribed = rooms
                if failures:
                    self.reconnects += 1
                    logger.warning(
                        "Redis pub/sub reconnected after %d attempt(s); resubscribed to %d room(s)",
                        failures,
                        len(rooms),
                    )
                    await self._refresh_presence()  # Redis may have restarted empty
                failures = 0
                self.connected.set()
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure must lead to a reconnect, never to silence
                failures += 1
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures - 1, 10))
                delay *= random.uniform(0.5, 1.0)
                logger.warning(
                    "Redis pub/sub link lost (%s: %s); reconnecting in %.1f s (attempt %d). "
                    "Frames published meanwhile do not reach this worker.",
                    type(exc).__name__,
                    exc,
                    delay,
                    failures,
                )
            finally:
                self._pubsub = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.reset()  # closes its connection
            await asyncio.sleep(delay)

    async def _pump(self, pubsub: PubSub) -> None:
        last_seen = last_ping = time.monotonic()
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                last_seen = now
                self._handle(message)
            if now - last_ping >= PING_EVERY:
                last_ping = now
                await pubsub.ping()
            if now - last_seen > STALE_AFTER:
                raise RedisConnectionError(f"no answer from Redis for {STALE_AFTER:.0f} s")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind not in ("message", "subscribe"):
            return
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if not name.startswith(_CHANNEL_PREFIX):
            return
        room = name[len(_CHANNEL_PREFIX) :]
        if kind == "subscribe":
            confirmed = self._confirmed.get(room)
            if confirmed is not None:
                confirmed.set()
            return
        data = message["data"]
        self._hub.deliver(room, data.decode() if isinstance(data, bytes) else str(data))
