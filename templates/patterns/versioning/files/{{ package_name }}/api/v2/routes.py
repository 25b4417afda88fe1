"""Routes of this version: its request and response models, over the shared users service."""

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ...database import SessionDep
from ..users import service

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    """A user to create."""

    model_config = ConfigDict(extra="forbid")

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(default="", max_length=100)
    email: str = Field(pattern=service.EMAIL_PATTERN, max_length=320)


class UserOut(BaseModel):
    """A user, with given and family names."""

    id: int
    given_name: str
    family_name: str
    email: str
    created_at: datetime


class UserPage(BaseModel):
    """One page of users and the cursor of the next one (null on the last page)."""

    items: list[UserOut]
    next_cursor: str | None


def _to_out(user: service.User) -> UserOut:
    return UserOut(
        id=user.id,
        given_name=user.given_name,
        family_name=user.family_name,
        email=user.email,
        created_at=user.created_at,
    )


def _encode_cursor(user_id: int) -> str:
    return base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid cursor.") from None


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserIn, session: SessionDep) -> UserOut:
    """Create a user."""
    try:
        user = await service.create_user(
            session, given_name=body.given_name, family_name=body.family_name, email=body.email
        )
    except service.EmailTakenError:
        raise HTTPException(status.HTTP_409_CONFLICT, "A user with this email exists.") from None
    return _to_out(user)


@router.get("/users/{user_id}")
async def get_user(user_id: int, session: SessionDep) -> UserOut:
    """Return one user."""
    user = await service.get_user(session, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No user {user_id}.")
    return _to_out(user)


@router.get("/users")
async def list_users(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> UserPage:
    """List users, `limit` at a time; pass `next_cursor` back to get the next page."""
    after_id = _decode_cursor(cursor) if cursor else 0
    users = await service.list_users(session, after_id=after_id, limit=limit + 1)
    page = [_to_out(user) for user in users[:limit]]
    more = len(users) > limit
    return UserPage(items=page, next_cursor=_encode_cursor(page[-1].id) if more else None)
