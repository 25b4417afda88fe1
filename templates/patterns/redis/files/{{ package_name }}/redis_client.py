"""The Redis client shared by the patterns that scale out on Redis.

A fastscaffold building block. With ``REDIS_URL`` empty nothing connects and
patterns keep to their in-process defaults; with a URL, one client per worker
is opened and checked at start-up, so a wrong URL stops the app at once
instead of failing on the first request.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError


class RedisSettings(BaseSettings):
    """Redis settings, from the environment and .env."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str = ""
    redis_connect_timeout: float = Field(default=5.0, gt=0)
    redis_key_prefix: str = Field(default="", max_length=100)


def key_prefix() -> str:
    """Return the prefix of every Redis key and channel this app uses.

    ``REDIS_KEY_PREFIX`` comes first (several apps, or several test runs,
    can share one Redis), then the package's name.
    """
    return f"{RedisSettings().redis_key_prefix}{__name__.partition('.')[0]}"


def redacted(url: str) -> str:
    """Return ``url`` without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if user else f"{scheme}{sep}***@{host}"


def create_client(settings: RedisSettings) -> Redis:
    """Create a client for ``settings.redis_url`` that retries dropped connections."""
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_connect_timeout,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect to Redis when it is configured, check it answers, and close at shutdown."""
    settings = RedisSettings()
    app.state.redis = None
    if not settings.redis_url:
        yield
        return
    client = create_client(settings)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise RuntimeError(
            f"Redis at {redacted(settings.redis_url)} does not answer ({exc}); "
            "start it, fix REDIS_URL, or leave REDIS_URL empty to run without Redis."
        ) from exc
    app.state.redis = client
    try:
        yield
    finally:
        app.state.redis = None
        await client.aclose()


def get_redis(app: FastAPI) -> Redis | None:
    """Return the app's Redis client, or None when REDIS_URL is empty."""
    client: Redis | None = getattr(app.state, "redis", None)
    return client
