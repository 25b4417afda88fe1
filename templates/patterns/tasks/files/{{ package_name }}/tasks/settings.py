"""Settings of the tasks pattern, read from the environment and .env."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..redis_client import RedisSettings

Engine = Literal["embedded", "taskiq"]


class TasksSettings(BaseSettings):
    """How jobs are queued, leased, run and kept."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_prefix="TASKS_")

    engine: Literal["auto", "embedded", "taskiq"] = "auto"
    concurrency: int = Field(default=4, ge=0, le=1000)
    lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=100)
    result_ttl_seconds: int = Field(default=86400, ge=1)
    max_queued: int = Field(default=10000, ge=1)
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    shutdown_seconds: float = Field(default=10.0, ge=0, le=3600)
    queue_name: str = Field(default="tasks", min_length=1, max_length=100)

    def resolved_engine(self, redis_url: str) -> Engine:
        """Return the engine in use: ``auto`` means taskiq exactly when Redis is configured."""
        if self.engine == "auto":
            return "taskiq" if redis_url else "embedded"
        return self.engine

    @property
    def reap_interval(self) -> float:
        """Seconds between two sweeps for expired leases and expired results."""
        return max(0.1, min(self.lease_seconds / 3, 10.0))


def redis_url() -> str:
    """Return ``REDIS_URL`` (empty when Redis is not configured)."""
    return RedisSettings().redis_url
