"""The users service: one implementation behind every API version.

Versions differ only at the edge (their request and response models); a
fix or a new rule here reaches every version at once.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field
from sqlalchemy import BigInteger, ColumnElement, DateTime, String, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ...database import Base

# Control characters and whitespace, spelt out: `\s` means different characters
# to the validator (Rust's regex) and to OpenAPI's readers (ECMA-262's).
_BLANKS = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# Deliberately loose: an address is proven by mail, not by a regular expression.
EMAIL_PATTERN = rf"^[^@{_BLANKS}]+@[^@{_BLANKS}]+\.[^@{_BLANKS}]+$"

# Stored text holds no control characters (PostgreSQL's cannot even hold NUL).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
EMAIL_MAX_LENGTH = 320


def normalise_email(address: str) -> str:
    """Return ``address`` in lower case, as it is stored.

    Raises:
        ValueError: Lower case makes it longer than the column holds ("İ"
            becomes two characters).
    """
    lowered = address.lower()
    if len(lowered) > EMAIL_MAX_LENGTH:
        raise ValueError(f"longer than {EMAIL_MAX_LENGTH} characters in lower case")
    return lowered


Email = Annotated[
    str,
    Field(max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN),
    AfterValidator(normalise_email),
]
"""An email address as the versions take it: loosely checked, stored in lower case."""


class User(Base):
    """A stored user."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
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
    user = User(given_name=given_name, family_name=family_name, email=normalise_email(email))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTakenError(email) from None
    await session.refresh(user)
    return user


def _id(value: int) -> ColumnElement[int]:
    """Return ``value`` as a BIGINT bind, for comparisons with ``User.id``.

    On PostgreSQL the column is an INTEGER (4 bytes) and a bind of its own type
    makes the driver refuse an id above 2**31 - 1 with an error; compared as a
    BIGINT, such an id simply matches no row. Callers bound ids to MAX_SQL_INT.
    """
    return literal(value, BigInteger)


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """Return the user with this id, if any."""
    return await session.scalar(select(User).where(User.id == _id(user_id)))


async def list_users(
    session: AsyncSession, *, limit: int, after_id: int = 0, offset: int = 0
) -> Sequence[User]:
    """Return up to ``limit`` users in id order: ids above ``after_id``, skipping ``offset``."""
    query = select(User).where(User.id > _id(after_id)).order_by(User.id)
    return (await session.scalars(query.offset(offset).limit(limit))).all()
