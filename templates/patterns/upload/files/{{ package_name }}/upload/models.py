"""The metadata of uploaded files, one row per file (the bytes live in storage)."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base


def _now() -> datetime:
    return datetime.now(UTC)


class UploadedFile(Base):
    """An uploaded file: who sent it, what it is, and where its bytes are."""

    __tablename__ = "uploaded_files"
    __table_args__ = (Index("ix_uploaded_files_owner_created", "owner", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex uuid; also the start of the storage key."""

    filename: Mapped[str] = mapped_column(String(255))
    """The sanitised display name (never used to store the file)."""

    storage_key: Mapped[str] = mapped_column(String(80), unique=True)
    """Server-chosen name of the bytes in storage: the id and the type's extension."""

    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    """The type judged from the content (not the client's claim)."""

    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    owner: Mapped[str | None] = mapped_column(String(255), default=None)
    """Who uploaded it, as `deps.get_owner` says; None while the service has no users."""

    storage_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """The storage that holds the bytes (see `Storage.storage_id`); None before it was kept."""
