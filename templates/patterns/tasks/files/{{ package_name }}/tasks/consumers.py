"""The consumers of the task stream's group: names, reconnecting, pruning, leaving."""

import logging
import os
import random
import socket
import uuid

from redis.asyncio import Redis

logger = logging.getLogger(__name__)


class Backoff:
    """Growing delays between attempts to reach Redis: 0.1 s, doubling, at most 5 s, jittered."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.attempts = 0

    def next_delay(self) -> float:
        """Return how long to wait before the next attempt (and count this one)."""
        delay = min(self.cap, self.first * 2.0**self.attempts)
        self.attempts += 1
        # Jitter, so that the workers of a fleet do not all knock at once.
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        """Start again from the shortest delay (Redis answered)."""
        self.attempts = 0


def consumer_name() -> str:
    """Return a consumer name unique to this process, telling where it runs (XINFO CONSUMERS)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def prune_idle(redis: Redis, stream: str, group: str, keep: bytes, idle_ms: int) -> None:
    """Remove the consumers that hold nothing and were idle ``idle_ms`` (but ``keep``)."""
    for consumer in await redis.xinfo_consumers(stream, group):
        name = consumer["name"]
        idle = consumer["idle"] >= idle_ms
        if name == keep or consumer["pending"] or not idle:
            continue
        await redis.xgroup_delconsumer(stream, group, name)
        logger.info(
            "removed the idle consumer %s from the task stream's group",
            name.decode(errors="replace"),
        )


async def hand_back(
    redis: Redis, stream: str, group: str, consumer: str, maxlen: int | None
) -> int:
    """Send again every message ``consumer`` holds, then remove it; return how many."""
    handed = 0
    while pending := await redis.xpending_range(
        stream, group, min="-", max="+", count=100, consumername=consumer
    ):
        for entry in pending:
            entry_id = entry["message_id"]
            found = await redis.xrange(stream, min=entry_id, max=entry_id, count=1)
            data = (found[0][1] or {}).get(b"data") if found else None
            # A copy at the end of the stream for another worker, and this
            # one acknowledged, at once (MULTI/EXEC).
            pipe = redis.pipeline(transaction=True)
            if data is not None:
                pipe.xadd(stream, {b"data": data}, maxlen=maxlen, approximate=True)
            pipe.xack(stream, group, entry_id)
            await pipe.execute()
            handed += 1
    await redis.xgroup_delconsumer(stream, group, consumer)
    return handed
