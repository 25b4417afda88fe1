"""The taskiq engine: Redis streams with acknowledgements, JSON only, results that expire.

taskiq carries only task ids: the task's params, status and progress stay in
the job store, so the HTTP API reads the same data whichever engine runs jobs.
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask
from taskiq.serializers import JSONSerializer
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from .settings import TasksSettings

TASK_NAME = "tasks.run"

RunTask = AsyncTaskiqDecoratedTask[[str], Coroutine[Any, Any, str]]


def create_broker(redis_url: str, settings: TasksSettings) -> RedisStreamBroker:
    """Return a broker on Redis streams for ``settings``.

    - ``RedisStreamBroker`` acknowledges a message only after the task ran, so
      a worker killed mid-task does not lose it (the list and pub/sub brokers
      would);
    - messages and results are JSON: taskiq-redis's default result serializer
      is pickle, which would let anyone who can write to Redis run code here;
    - results expire after ``TASKS_RESULT_TTL_SECONDS``.
    """
    backend: RedisAsyncResultBackend[str] = RedisAsyncResultBackend(
        redis_url,
        result_ex_time=settings.result_ttl_seconds,
        serializer=JSONSerializer(),
        prefix_str=f"{settings.queue_name}:result",
    )
    broker = RedisStreamBroker(
        redis_url,
        queue_name=settings.queue_name,
        consumer_group_name=settings.queue_name,
        # A worker that died holding the lock that guards re-deliveries would
        # otherwise stop every other worker from picking them up.
        unacknowledged_lock_timeout=30,
    )
    return broker.with_result_backend(backend).with_serializer(JSONSerializer())


def register_run_task(broker: AsyncBroker, execute: Callable[[str], Awaitable[str]]) -> RunTask:
    """Register the one taskiq task: run the stored task whose id it receives."""

    async def run_task(task_id: str) -> str:
        return await execute(task_id)

    task: RunTask = broker.register_task(run_task, task_name=TASK_NAME)
    return task
