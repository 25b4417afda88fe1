"""Settings of the streaming exports, read from the environment and `.env`."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamingSettings(BaseSettings):
    """How exports are streamed and bounded; each field is read from its upper-case name."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    export_max_concurrent: int = Field(default=4, ge=1, le=1000)
    """Exports one worker process serves at once; more are answered 503 with Retry-After."""

    export_batch_size: int = Field(default=5000, ge=1, le=100_000)
    """Rows fetched from the database per round trip."""

    export_chunk_bytes: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)
    """Smallest chunk written to the client, in bytes (the last one excepted)."""

    export_csv_bom: bool = False
    """Start CSV files with a UTF-8 byte order mark, for spreadsheet users."""

    export_retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    """Retry-After sent with the 503 of an export beyond the concurrency bound."""

    export_max_seconds: float = Field(default=900, gt=0)
    """Longest an export may run, slow readers included; the stream is cut after it."""
