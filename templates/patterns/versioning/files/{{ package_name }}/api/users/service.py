"""The users service: one implementation behind every API version.

Versions differ only at the edge (their request and response models); a
fix or a new rule here reaches every version at once.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ...database import Base

# Deliberately loose: an address is proven by mail, not by a regular expression.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class User(Base):
    """A stored user."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class EmailTakenError(Exception):
    """Raised when another user already has the email address."""


async def create_user(
    session: AsyncSession, *, given_name: str, family_name: str, email: str
) -> User:
    """Store a new user.

    Raises:
        EmailTakenError: The email address is already in use.
    """
    user = User(given_name=given_name, family_name=family_name, email=email.lower())
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTakenError(email) from None
    await session.refresh(user)
    return user


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """Return the user with this id, if any."""
    return await session.get(User, user_id)


async def list_users(
    session: AsyncSession, *, limit: int, after_id: int = 0, offset: int = 0
) -> Sequence[User]:
    """Return up to ``limit`` users in id order: ids above ``after_id``, skipping ``offset``."""
    query = select(User).where(User.id > after_id).order_by(User.id).offset(offset).limit(limit)
    return (await session.scalars(query)).all()
