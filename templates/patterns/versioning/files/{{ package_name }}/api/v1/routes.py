"""Routes of this version: its request and response models, over the shared users service."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ...database import SessionDep
from ...errors import bounded, problem_responses
from ...limits import MAX_SQL_INT
from ..users import service

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    """A user to create, with one name."""

    model_config = ConfigDict(extra="forbid")

    # Stored as the given name: at most what that column holds.
    name: str = Field(min_length=1, max_length=100, pattern=service.TEXT_PATTERN)
    email: service.Email


class UserOut(BaseModel):
    """A user, with one name."""

    id: int
    name: str
    email: str


def _to_out(user: service.User) -> UserOut:
    name = f"{user.given_name} {user.family_name}".strip()
    return UserOut(id=user.id, name=name, email=user.email)


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
    """Create a user; the one name is stored as the given name."""
    try:
        user = await service.create_user(
            session, given_name=body.name, family_name="", email=body.email
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
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[UserOut]:
    """List users, `limit` at a time from `offset`."""
    users = await service.list_users(session, offset=offset, limit=limit)
    return [_to_out(user) for user in users]
