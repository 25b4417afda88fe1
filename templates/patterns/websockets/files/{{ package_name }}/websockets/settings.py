"""Settings of the WebSocket rooms, read from WS_* environment variables and .env."""

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class WebSocketSettings(BaseSettings):
    """Limits of the chat rooms; each field is read from the variable of the same name."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1)
    """Largest message a client may send (UTF-8 bytes); a bigger frame closes with 1009."""

    ws_rate_limit: float = Field(default=10.0, ge=0)
    """Messages per second per connection, refilled continuously; 0 disables the limit."""

    ws_rate_burst: int = Field(default=20, ge=1)
    """Messages a connection may send at once before the rate limit applies."""

    ws_max_connections_per_room: int = Field(default=1000, ge=1)
    """Connections one room accepts (all workers together when Redis is used)."""

    ws_queue_size: int = Field(default=1024, ge=1)
    """Frames buffered per connection; a client that falls further behind is closed (1013)."""

    ws_send_timeout: float = Field(default=10.0, gt=0)
    """Seconds one frame may take to reach a client before it is closed (1013)."""

    ws_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Browser origins allowed besides the server's own (comma-separated); `*` allows any."""

    ws_require_origin: bool = False
    """Refuse clients that send no Origin header (command-line and server-side clients)."""

    @field_validator("ws_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        # Browsers send `scheme://host[:port]`, lower-case and without a trailing slash.
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(o).strip().rstrip("/").lower() for o in value if str(o).strip())
        return value
