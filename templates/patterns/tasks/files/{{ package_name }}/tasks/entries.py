"""The task stream's entries: ids, and which entries of queued tasks Redis lost.

Ids only grow within one stream, and nothing deletes entries from its
middle: that is what lets the reaper tell, from a few numbers Redis keeps
about the stream and its group, which queued tasks must be sent again.
"""

from collections.abc import Collection, Iterable

from redis.asyncio import Redis
from redis.exceptions import ResponseError


def parse_id(value: bytes | str) -> tuple[int, int]:
    """Return a stream entry id (``"1700000000000-3"``) as a comparable pair."""
    text = value.decode() if isinstance(value, bytes) else value
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def classify(
    message_ids: Iterable[str],
    *,
    first: bytes | str | None,
    last: bytes | str,
    delivered: bytes | str | None,
) -> tuple[set[str], set[str]]:
    """Split entry ids into those gone from the stream and those already delivered.

    Ids only grow within one stream and nothing deletes entries from its
    middle, so an entry is gone exactly when it is older than the first
    entry (trimmed), or newer than the last id the stream ever generated, or
    the stream is empty (both: Redis restarted without its data).

    Args:
        message_ids: Entry ids of queued tasks.
        first: The stream's first entry id (None when the stream is empty).
        last: The last id the stream generated.
        delivered: The consumer group's last delivered id (None: no group
            yet; it is created from the stream's start, so nothing is delivered).

    Returns:
        The ids gone, and the ids still there but delivered to a worker
        already: those are lost too unless a worker still holds them.
    """
    gone: set[str] = set()
    seen: set[str] = set()
    low = None if first is None else parse_id(first)
    high = parse_id(last)
    upto = None if delivered is None else parse_id(delivered)
    for message_id in message_ids:
        key = parse_id(message_id)
        if low is None or key < low or key > high:
            gone.add(message_id)
        elif upto is not None and key <= upto:
            seen.add(message_id)
    return gone, seen


async def lost_entries(
    redis: Redis, stream: str, group: str, message_ids: Collection[str]
) -> set[str]:
    """Return those of ``message_ids`` whose entry will never reach a worker.

    Gone from the stream (see :func:`classify`), or delivered and
    acknowledged although its task is still queued. An entry that a worker
    holds unacknowledged is not lost: it is reclaimed on the timer.
    """
    if not message_ids:
        return set()
    try:
        info = await redis.xinfo_stream(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return set(message_ids)
        raise
    groups = await redis.xinfo_groups(stream)
    ours = [found for found in groups if found["name"] == group.encode()]
    delivered = ours[0]["last-delivered-id"] if ours else None
    first_entry = info.get("first-entry")
    gone, seen = classify(
        message_ids,
        first=first_entry[0] if first_entry else None,
        last=info["last-generated-id"],
        delivered=delivered,
    )
    if seen:
        ordered = sorted(seen)
        pipe = redis.pipeline(transaction=False)
        for message_id in ordered:
            pipe.xpending_range(stream, group, min=message_id, max=message_id, count=1)
        replies = await pipe.execute()
        gone |= {mid for mid, pending in zip(ordered, replies, strict=True) if not pending}
    return gone
