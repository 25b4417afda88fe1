"""Fixtures for tests of the patterns that scale out on Redis.

Without ``REDIS_URL`` the tests run in-process, as the app does by default.
When ``REDIS_URL`` is set (as the CI's services job does), each test gets a
key prefix of its own (``REDIS_KEY_PREFIX``), so tests that share the server
never see each other's keys, channels or streams; the test's keys are
deleted afterwards.
"""

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis


def on_redis() -> bool:
    """Return whether the tests run on a real Redis (REDIS_URL is set)."""
    return bool(os.environ.get("REDIS_URL"))


async def _delete_keys(url: str, prefix: str) -> None:
    client = Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(autouse=True)
def redis_key_prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Give the test a Redis namespace of its own (when REDIS_URL is set)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    monkeypatch.setenv("REDIS_KEY_PREFIX", prefix)
    # Read now: a test may point REDIS_URL elsewhere (an unreachable server) for itself.
    url = os.environ.get("REDIS_URL", "")
    yield prefix
    if url:
        asyncio.run(_delete_keys(url, prefix))
