"""Runtime settings, read from environment variables and an optional `.env` file.

Variable names are the upper-case field names, without a prefix (`LOG_LEVEL`,
`PORT`, ...). Patterns added later keep their own settings classes in their own
modules and read the same environment, which is why unknown variables are ignored.
"""

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]
DocsAssets = Literal["local", "cdn"]


class Settings(BaseSettings):
    """Settings of the service; every field is read from the variable of the same name."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        # Pattern settings (WS_MAX_MESSAGE_BYTES, ...) share the environment and .env.
        extra="ignore",
        frozen=True,
        # The docstrings under each field become their descriptions.
        use_attribute_docstrings=True,
    )

    environment: Environment = "development"
    """Where the service runs; code may branch on it, e.g. to harden production."""

    log_level: LogLevel = "INFO"
    """Lowest level that is logged, for the service and for uvicorn."""

    log_format: LogFormat = "text"
    """`text` for people, `json` (one object per line) for log collectors."""

    access_log: bool = True
    """Log one line per request; uvicorn's `--no-access-log` turns it off as well."""

    cors_allow_origins: Annotated[
        tuple[str, ...],
        NoDecode,
        # FRONTEND_ORIGINS names the browser front-end's origins once, for CORS
        # and for every pattern that checks an Origin (WebSockets); this
        # variable, when set, overrides it for CORS alone.
        Field(validation_alias=AliasChoices("cors_allow_origins", "frontend_origins")),
    ] = ()
    """Origins allowed to call the API from a browser (comma-separated; default
    FRONTEND_ORIGINS); empty disables CORS."""

    docs_enabled: bool = True
    """Serve the OpenAPI schema, Swagger UI and ReDoc (/openapi.json, /docs, /redoc)."""

    docs_assets: DocsAssets = "local"
    """`local`: the app serves the docs pages' scripts itself (works offline); `cdn`: jsDelivr."""

    pages_enabled: bool | None = None
    """Serve the browser pages (/ and /pages/...) that try out the applied patterns;
    unset: on, except when ENVIRONMENT is production."""

    host: str = "127.0.0.1"
    """Interface `serve` binds to; use 0.0.0.0 inside a container."""

    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port `serve` listens on."""

    workers: int = Field(default=1, ge=1)
    """Number of worker processes `serve` starts."""

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    """Largest request body accepted, in bytes (endpoints may set their own); larger is 413."""

    @property
    def pages_served(self) -> bool:
        """Whether the browser pages are served: PAGES_ENABLED, else not in production."""
        if self.pages_enabled is not None:
            return self.pages_enabled
        return self.environment != "production"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: Any) -> Any:
        # Accept `debug` as well as `DEBUG`, as the logging module's users expect.
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        # A comma-separated string reads better in an environment variable than JSON.
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _check_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        # Browsers send the origin without a trailing slash and CORS compares it
        # exactly, so a stray "/" would silently block every request.
        normalised = tuple(origin.rstrip("/") for origin in origins)
        for origin in normalised:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                msg = (
                    f"{origin!r} (CORS_ALLOW_ORIGINS, else FRONTEND_ORIGINS) is not an origin:"
                    " use scheme://host[:port] or '*'"
                )
                raise ValueError(msg)
        return normalised


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use.

    Call `get_settings.cache_clear()` to read the environment again (tests do).
    """
    return Settings()


def describe_settings(settings: BaseSettings) -> dict[str, Any]:
    """Return the settings as JSON-ready data keyed by environment variable name.

    Secret fields (`SecretStr`, `SecretBytes`) are masked by pydantic's JSON mode,
    so the result is safe to print or log.
    """
    return {name.upper(): value for name, value in settings.model_dump(mode="json").items()}
