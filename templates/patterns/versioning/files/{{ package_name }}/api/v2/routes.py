"""Routes of this version: its request and response models, over the shared users service."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ...database import SessionDep
from ...errors import bounded, problem_responses
from ...limits import MAX_SQL_INT
from ...timestamps import UtcDateTime
from ..users import service

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    """A user to create."""

    model_config = ConfigDict(extra="forbid")

    given_name: str = Field(min_length=1, max_length=100, pattern=service.TEXT_PATTERN)
    family_name: str = Field(default="", max_length=100, pattern=service.TEXT_PATTERN)
    email: service.Email


class UserOut(BaseModel):
    """A user, with given and family names."""

    id: int
    given_name: str
    family_name: str
    email: str
    created_at: UtcDateTime


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


# A cursor is the last id of the previous page, in hexadecimal. Clients pass
# it back without reading it. The pattern admits exactly the numbers SQL holds,
# 0 to MAX_SQL_INT (0x7fffffffffffffff): a forged or mangled cursor (10**25, or
# anything not hexadecimal) is refused by validation, with 422, before any query.
CURSOR_PATTERN = r"^[0-7]?[0-9a-f]{1,15}$"


def encode_cursor(user_id: int) -> str:
    """Return the cursor of the page after the user ``user_id``."""
    return format(user_id, "x")


def decode_cursor(cursor: str) -> int:
    """Return the id a cursor that matches CURSOR_PATTERN names (at most MAX_SQL_INT)."""
    return int(cursor, 16)


# An id within what SQL holds (a larger one would fail in the driver, not 404).
UserId = Annotated[int, Path(ge=1, le=MAX_SQL_INT, description="The user's id.")]

# The statuses the routes answer besides 422 (validation) and 500, documented
# app-wide, and 410, documented for every route of a version.
_CREATE_ERRORS = problem_responses(400, 409)
_CREATE_ERRORS[400]["description"] = "The body is not JSON text (it is not UTF-8)."
_CREATE_ERRORS[409]["description"] = "A user with this email address exists."
_READ_ERRORS = problem_responses(404)
_READ_ERRORS[404]["description"] = "No user has this id."


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=_CREATE_ERRORS)
async def create_user(body: UserIn, session: SessionDep) -> UserOut:
    """Create a user."""
    try:
        user = await service.create_user(
            session, given_name=body.given_name, family_name=body.family_name, email=body.email
        )
    except service.EmailTakenError:
        raise HTTPException(status.HTTP_409_CONFLICT, "A user with this email exists.") from None
    return _to_out(user)


@router.get("/users/{user_id}", responses=_READ_ERRORS)
async def get_user(user_id: UserId, session: SessionDep) -> UserOut:
    """Return one user."""
    user = await service.get_user(session, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No user {bounded(str(user_id))}.")
    return _to_out(user)


@router.get("/users")
async def list_users(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None,
        Query(pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page."),
    ] = None,
) -> UserPage:
    """List users, `limit` at a time; pass `next_cursor` back to get the next page."""
    after_id = decode_cursor(cursor) if cursor else 0
    users = await service.list_users(session, after_id=after_id, limit=limit + 1)
    page = [_to_out(user) for user in users[:limit]]
    more = len(users) > limit
    return UserPage(items=page, next_cursor=encode_cursor(page[-1].id) if more else None)
