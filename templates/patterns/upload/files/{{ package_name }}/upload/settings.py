"""Settings of the upload pattern, read from the environment and `.env`."""

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .policy import KNOWN_TYPES


class UploadSettings(BaseSettings):
    """Where uploads go, how large they may be and which types are accepted."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    upload_dir: Path = Path("./data/uploads")
    """Folder the files are stored in; keep it outside any static mount."""

    upload_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    """Largest accepted file, in bytes."""

    upload_require_shared_storage: bool = False
    """Refuse to start when the database lists files in another server's storage."""

    upload_allowed_types: Annotated[frozenset[str], NoDecode] = frozenset(
        {"image/jpeg", "image/png", "application/pdf"}
    )
    """Media types accepted, judged by content; a subset of `policy.KNOWN_TYPES`."""

    @field_validator("upload_allowed_types", mode="before")
    @classmethod
    def _split_types(cls, value: Any) -> Any:
        # A comma-separated list reads better in an environment variable than JSON.
        if isinstance(value, str):
            return frozenset(t.strip().lower() for t in value.split(",") if t.strip())
        return value

    @field_validator("upload_allowed_types")
    @classmethod
    def _check_types(cls, types: frozenset[str]) -> frozenset[str]:
        unknown = sorted(types - KNOWN_TYPES.keys())
        if unknown:
            known = ", ".join(sorted(KNOWN_TYPES))
            msg = f"{', '.join(unknown)}: not a type this service can check (known: {known})"
            raise ValueError(msg)
        if not types:
            raise ValueError("at least one type must be allowed")
        return types
