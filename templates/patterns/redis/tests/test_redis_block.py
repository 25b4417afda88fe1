"""The redis block against a real redis-server: the app connects, and survives a restart."""

import asyncio
from pathlib import Path

import pytest

from fastscaffold.creation import NewOptions, new_project
from tests.services import RedisServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def redis_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("redis-block")
    return new_project(NewOptions(name="cache-api", parent=parent, patterns=("redis",))).destination


def test_the_client_reconnects_after_a_redis_restart(
    redis_project: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(redis_project))
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    from cache_api.redis_client import RedisSettings, create_client

    async def scenario() -> list[bytes | None]:
        client = create_client(RedisSettings())
        try:
            await client.set("key", "before")
            redis_server.restart()  # data is not persisted: the key is gone
            # The first command after the restart reconnects through the retry policy.
            await client.set("key", "after")
            return [await client.get("key")]
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [b"after"]
