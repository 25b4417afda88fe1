"""Routes of this version: its request and response models, over the shared users service."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ...database import SessionDep
from ..users import service

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    """A user to create, with one name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=service.EMAIL_PATTERN, max_length=320)


class UserOut(BaseModel):
    """A user, with one name."""

    id: int
    name: str
    email: str


def _to_out(user: service.User) -> UserOut:
    name = f"{user.given_name} {user.family_name}".strip()
    return UserOut(id=user.id, name=name, email=user.email)


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserIn, session: SessionDep) -> UserOut:
    """Create a user; the one name is stored as the given name."""
    try:
        user = await service.create_user(
            session, given_name=body.name, family_name="", email=body.email
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
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[UserOut]:
    """List users, `limit` at a time from `offset`."""
    users = await service.list_users(session, offset=offset, limit=limit)
    return [_to_out(user) for user in users]
