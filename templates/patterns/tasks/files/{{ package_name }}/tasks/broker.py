"""The taskiq engine: task ids over a Redis stream that heals itself.

The database is the source of truth; a stream message only tells a worker
which task to claim. The claim (an atomic UPDATE with a lease) decides who
runs a task, so a duplicate message is harmless: it finds the task claimed
or finished and is dropped. That lets every recovery below err on the side
of sending again:

- A worker reads at once as many messages as it has free slots (XREADGROUP
  COUNT), claims each task, and only then acknowledges its message (XACK,
  one for the tasks claimed together: acks.py). Messages never pile up in
  a worker that cannot run them yet.
- A message a worker received but never acknowledged (it died between
  reading and claiming) goes to another worker once it has been idle for
  ``TASKS_RECLAIM_IDLE_SECONDS``: each worker looks for such messages on a
  timer (XAUTOCLAIM), whether or not new messages arrive.
- Redis unreachable: the worker backs off and tries again, logging each
  attempt; it never exits for it. A consumer group Redis lost (NOGROUP,
  after a restart without persistence) is created again from the start of
  the stream, so nothing sent meanwhile is skipped.
- ``XADD ... MAXLEN ~ TASKS_STREAM_MAXLEN`` bounds the stream. A queued
  task whose entry is gone (trimmed, or Redis restarted without its data)
  is sent again by the reaper: :meth:`TaskStream.lost` tells which
  (:mod:`.entries`).
- A worker that stops gracefully hands back the messages it holds and
  leaves the group; the consumers of dead workers are removed once idle
  (:mod:`.consumers`).

Every key lives under :func:`~..redis_client.key_prefix`. Results stay in
the database: nothing is written to Redis besides the stream.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker, BrokerMessage, Context, TaskiqDepends, TaskiqMessage
from taskiq.serializers import JSONSerializer
from taskiq_redis import RedisStreamBroker

from ..redis_client import key_prefix
from .acks import Acknowledgements
from .consumers import Backoff, consumer_name, hand_back, prune_idle
from .entries import lost_entries
from .settings import LEAVE_SECONDS, TasksSettings

logger = logging.getLogger(__name__)

TASK_NAME = "tasks.run"

# What Redis being away looks like (stopped, restarting, loading its data,
# the network cut): worth waiting for, unlike a bug.
UNREACHABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

# How long one XREADGROUP waits for a message; also how late a worker may
# notice that the reclaim timer is due, at most.
READ_BLOCK_MS = 2000
# Above READ_BLOCK_MS, so that a blocking read is not mistaken for a dead server.
SOCKET_TIMEOUT = 10.0

# taskiq injects the message's context (to acknowledge it) into a parameter
# whose default is this marker.
CONTEXT: Context = TaskiqDepends()

Acknowledge = Callable[[], Awaitable[None]]
Execute = Callable[[str, Acknowledge | None], Awaitable[str]]
Send = Callable[[str], Awaitable[object]]


def stream_name(settings: TasksSettings) -> str:
    """Return the stream's key: the app's Redis prefix, then ``TASKS_QUEUE_NAME``."""
    return f"{key_prefix()}:{settings.queue_name}"


class TaskStream(RedisStreamBroker):
    """A taskiq broker on one Redis stream and consumer group, with the recoveries above.

    Its own :meth:`listen` replaces taskiq-redis's, which fetched 100
    messages at a time, reclaimed stale ones only after a read that
    returned messages (and only after ten minutes), and stopped the worker
    on the first NOGROUP.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        group: str,
        maxlen: int,
        reclaim_idle_seconds: float,
        reclaim_interval: float,
        reclaim_batch: int,
        connect_timeout: float,
        prune_idle_seconds: float | None = None,
        slots: int = 1,
    ) -> None:
        super().__init__(
            url,
            queue_name=stream,
            consumer_group_name=group,
            consumer_name=consumer_name(),
            # The start of the stream: a group created after messages were
            # sent (Redis restarted and the API sent first) still gets them.
            consumer_id="0",
            mkstream=True,
            xread_block=READ_BLOCK_MS,
            maxlen=maxlen,
            approximate=True,
            idle_timeout=max(1, int(reclaim_idle_seconds * 1000)),
            unacknowledged_batch_size=max(1, reclaim_batch),
            xread_count=1,
            # The connections' own settings: bounded waits, and one immediate
            # retry on a fresh connection (after a Redis restart the pooled
            # ones are dead; the first use of each would fail otherwise).
            socket_connect_timeout=connect_timeout,
            socket_timeout=SOCKET_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self.reclaim_interval = reclaim_interval
        # How many tasks this worker runs at once (taskiq's max_async_tasks),
        # and how many of its messages are being run now (see register_run_task).
        self.slots = max(1, slots)
        self.running = 0
        # A consumer with nothing pending and idle this long belongs to a
        # worker that died (or is busy with long jobs: XREADGROUP recreates
        # its consumer on its next read, so removing it costs nothing).
        self.prune_idle_ms = int(
            1000 * (prune_idle_seconds or max(600.0, 20 * reclaim_idle_seconds))
        )
        self._group_name = group.encode()
        self._consumer = self.consumer_name.encode()
        self._listening = False
        # One client for the hot path (sending, acknowledging): each command
        # takes a connection of the pool, and building a client per command
        # cost more than the command.
        self._client = Redis(connection_pool=self.connection_pool)
        self._acks = Acknowledgements(self._client, self.queue_name, self.consumer_group_name)

    # Sending

    async def send(self, task_id: str) -> str:
        """Append a message for the task ``task_id``; return its entry id."""
        message = TaskiqMessage(
            task_id=task_id, task_name=TASK_NAME, labels={}, args=[task_id], kwargs={}
        )
        return await self._append(self.formatter.dumps(message).message)

    async def kick(self, message: BrokerMessage) -> None:
        """Append a message sent with taskiq's ``kiq`` (bounded like :meth:`send`)."""
        await self._append(message.message)

    async def _append(self, data: bytes) -> str:
        entry_id = await self._client.xadd(
            self.queue_name, {b"data": data}, maxlen=self.maxlen, approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def lost(self, message_ids: Collection[str]) -> set[str]:
        """Return those of ``message_ids`` whose entry never reaches a worker (see entries.py)."""
        async with Redis(connection_pool=self.connection_pool) as redis:
            return await lost_entries(redis, self.queue_name, self.consumer_group_name, message_ids)

    async def _declare_consumer_group(self) -> None:
        # At start-up: a worker started while Redis is away waits for it in
        # listen() instead of failing here.
        try:
            async with Redis(connection_pool=self.connection_pool) as redis:
                await self._create_group(redis)
        except UNREACHABLE as exc:
            logger.warning("Redis is unreachable (%s): the stream is set up once it answers", exc)

    async def _create_group(self, redis: Redis) -> None:
        try:
            await redis.xgroup_create(
                self.queue_name, self.consumer_group_name, id=self.consumer_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return
        logger.info(
            "created the consumer group %s of the task stream %s (from its start)",
            self.consumer_group_name,
            self.queue_name,
        )

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield messages one at a time, each when the receiver has a free slot.

        Never ends on its own: Redis errors are waited out, a lost group is
        created again, and stale messages are reclaimed on a timer.
        """
        self._listening = True
        redis = Redis(connection_pool=self.connection_pool)
        held: deque[tuple[bytes, bytes]] = deque()  # received, not yet yielded
        group_ready = False
        cursor = b"0-0"
        next_reclaim = 0.0  # at once: pick up what workers that died left
        backoff = Backoff()
        down_since: float | None = None
        try:
            while True:
                if held:
                    entry_id, data = held.popleft()
                    yield AckableMessage(data=data, ack=self._acknowledger(entry_id))
                    continue
                try:
                    if not group_ready:
                        await self._create_group(redis)
                        group_ready = True
                    now = time.monotonic()
                    if now >= next_reclaim:
                        cursor = await self._reclaim(redis, cursor, held)
                        if cursor == b"0-0":  # a full pass over the pending entries
                            next_reclaim = now + self.reclaim_interval
                            await self._prune(redis)
                    else:
                        block = max(1, min(READ_BLOCK_MS, int((next_reclaim - now) * 1000)))
                        await self._read(redis, block, self._free_slots(), held)
                except ResponseError as exc:
                    # NOGROUP; or UNBLOCKED: the stream was deleted under a blocked read.
                    if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                        raise
                    logger.warning(
                        "the consumer group %s of %s is gone (Redis lost its data?): "
                        "creating it again",
                        self.consumer_group_name,
                        self.queue_name,
                    )
                    group_ready = False
                    continue
                except UNREACHABLE as exc:
                    if down_since is None:
                        down_since = time.monotonic()
                    delay = backoff.next_delay()
                    logger.warning(
                        "Redis is unreachable (%s); trying again in %.1f s (attempt %d)",
                        exc,
                        delay,
                        backoff.attempts,
                    )
                    # It may come back empty: check the group before reading again.
                    group_ready = False
                    await asyncio.sleep(delay)
                    continue
                if down_since is not None:
                    logger.info(
                        "Redis answers again after %.1f s (%d attempt(s)); reading tasks again",
                        time.monotonic() - down_since,
                        backoff.attempts,
                    )
                    down_since = None
                    backoff.reset()
        finally:
            await redis.aclose()

    def _free_slots(self) -> int:
        # The receiver asks for a message only when it has a free slot, so at
        # least one is free; the others are those no message is running in.
        return max(1, self.slots - self.running)

    async def _read(
        self, redis: Redis, block_ms: int, count: int, held: deque[tuple[bytes, bytes]]
    ) -> None:
        reply: Any = await redis.xreadgroup(
            self.consumer_group_name,
            self.consumer_name,
            {self.queue_name: ">"},
            count=count,
            block=block_ms,
        )
        # A list of (stream, entries) pairs; a dict with RESP3.
        streams = reply.items() if isinstance(reply, dict) else reply or []
        for _stream, entries in streams:
            await self._hold(redis, entries, held)

    async def _reclaim(
        self, redis: Redis, cursor: bytes, held: deque[tuple[bytes, bytes]]
    ) -> bytes:
        reply = await redis.xautoclaim(
            self.queue_name,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self.idle_timeout,
            start_id=cursor,
            count=self.unacknowledged_batch_size,
        )
        next_cursor: bytes = reply[0]
        claimed = await self._hold(redis, reply[1], held)
        if claimed:
            logger.warning(
                "took over %d task message(s) a worker received but never confirmed "
                "(it stopped or died before claiming them)",
                claimed,
            )
        return next_cursor

    async def _hold(self, redis: Redis, entries: Any, held: deque[tuple[bytes, bytes]]) -> int:
        count = 0
        for entry_id, fields in entries:
            data = (fields or {}).get(b"data")
            if data is None:
                # Trimmed while pending (Redis 6.2 answers with no fields), or
                # not ours: drop it from the pending list.
                await redis.xack(self.queue_name, self.consumer_group_name, entry_id)
                continue
            held.append((entry_id, data))
            count += 1
        return count

    async def _prune(self, redis: Redis) -> None:
        await prune_idle(
            redis, self.queue_name, self.consumer_group_name, self._consumer, self.prune_idle_ms
        )

    def _acknowledger(self, entry_id: bytes) -> Acknowledge:
        async def acknowledge() -> None:
            await self._acks.confirm(entry_id)

        return acknowledge

    # Stopping

    async def shutdown(self) -> None:
        """Hand back the messages this worker holds, leave the group, close the connections."""
        try:
            if self._listening:
                async with asyncio.timeout(LEAVE_SECONDS):
                    await self._leave()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "could not hand this worker's task messages back (%s): another worker "
                "takes them over after TASKS_RECLAIM_IDLE_SECONDS",
                str(exc) or type(exc).__name__,
            )
        finally:
            await super().shutdown()

    async def _leave(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            handed = await hand_back(
                redis, self.queue_name, self.consumer_group_name, self.consumer_name, self.maxlen
            )
        if handed:
            logger.info("handed %d unclaimed task message(s) back to the stream", handed)


def create_broker(redis_url: str, settings: TasksSettings, connect_timeout: float) -> TaskStream:
    """Return the stream broker for ``settings`` (JSON messages: never pickle)."""
    broker = TaskStream(
        redis_url,
        stream=stream_name(settings),
        group=settings.queue_name,
        maxlen=settings.stream_maxlen,
        reclaim_idle_seconds=settings.reclaim_idle_seconds,
        reclaim_interval=settings.reclaim_interval,
        reclaim_batch=max(1, settings.concurrency),
        slots=settings.concurrency,
        connect_timeout=connect_timeout,
    )
    return broker.with_serializer(JSONSerializer())


def register_run_task(broker: AsyncBroker, execute: Execute) -> Send:
    """Register the one taskiq task (run the stored task whose id it receives); return a sender.

    The message is acknowledged by ``execute`` once the database has taken
    over (the task claimed, or found not to need running), not when the
    job ends: a crash mid-job is the lease's business, not the stream's.
    On a :class:`TaskStream`, each run is counted until its job ends (its
    outcome is written after that: ``TaskService.deliver``), so that the
    stream reads no more messages than the worker has free slots for.
    """
    stream = broker if isinstance(broker, TaskStream) else None

    async def run_task(task_id: str, context: Context = CONTEXT) -> str:
        ack = context.ack if context.is_ackable else None
        if stream is None:
            return await execute(task_id, ack)
        stream.running += 1
        try:
            return await execute(task_id, ack)
        finally:
            stream.running -= 1

    task = broker.register_task(run_task, task_name=TASK_NAME)

    async def send(task_id: str) -> object:
        return await task.kiq(task_id)

    return send
