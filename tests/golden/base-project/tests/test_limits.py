from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.testclient import TestClient

from golden_api.limits import MAX_SQL_INT, body_limit
from golden_api.settings import Settings

PROBLEM_JSON = "application/problem+json"
JSON = {"content-type": "application/json"}
LIMIT = 2048


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_body_bytes=LIMIT)


@pytest.fixture
def received(app: FastAPI) -> list[int]:
    """Sizes of the bodies the test endpoints read; they must not run for refused ones."""
    sizes: list[int] = []

    @app.post("/notes")
    async def create_note(note: dict[str, Any]) -> int:
        sizes.append(len(str(note)))
        return len(note)

    @app.post("/uploads")
    @body_limit(None)
    async def upload(request: Request) -> int:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        sizes.append(size)
        return size

    @app.post("/pings")
    @body_limit(16)
    async def ping(request: Request) -> int:
        size = len(await request.body())
        sizes.append(size)
        return size

    return sizes


def chunks(total: int, size: int = 512) -> Iterator[bytes]:
    """A body without Content-Length: the client sends it chunked."""
    yield b'{"text": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_a_body_within_the_limit_is_accepted(client: TestClient, received: list[int]) -> None:
    response = client.post("/notes", json={"text": "x" * (LIMIT - 100)})

    assert response.status_code == 200
    assert len(received) == 1


def test_a_declared_body_over_the_limit_is_refused_before_the_endpoint_runs(
    client: TestClient, received: list[int]
) -> None:
    response = client.post("/notes", json={"text": "x" * LIMIT})

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["title"] == HTTPStatus(413).phrase
    assert str(LIMIT) in response.json()["detail"]
    assert received == []


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient, received: list[int]) -> None:
    within = client.post("/notes", content=chunks(LIMIT // 2), headers=JSON)
    over = client.post("/notes", content=chunks(100 * LIMIT), headers=JSON)

    assert within.status_code == 200
    assert over.status_code == 413
    assert over.headers["content-type"] == PROBLEM_JSON
    assert "x-request-id" in over.headers
    assert len(received) == 1


def test_an_exempt_endpoint_reads_any_size(client: TestClient, received: list[int]) -> None:
    declared = client.post("/uploads", content=b"x" * (10 * LIMIT))
    chunked = client.post("/uploads", content=chunks(10 * LIMIT))

    assert declared.status_code == 200
    assert chunked.status_code == 200
    assert received == [10 * LIMIT, 10 * LIMIT + len(b'{"text": ""}')]


def test_an_endpoint_can_set_a_smaller_limit(client: TestClient, received: list[int]) -> None:
    assert client.post("/pings", content=b"x" * 16).status_code == 200
    assert client.post("/pings", content=b"x" * 17).status_code == 413
    assert client.post("/pings", content=iter([b"x" * 10, b"x" * 10])).status_code == 413
    assert received == [16]


def test_a_body_nobody_reads_does_not_matter(client: TestClient) -> None:
    # The limit applies where a body is read; an unrouted one never is.
    response = client.post("/nowhere", content=b"x" * (10 * LIMIT))

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_limits_hold_on_routers_included_in_the_app(app: FastAPI, client: TestClient) -> None:
    # Pattern routes live on routers; the limit follows the endpoint function.
    router = APIRouter(prefix="/batch")

    @router.post("/small")
    @body_limit(8)
    async def small(request: Request) -> int:
        return len(await request.body())

    @router.post("/large")
    @body_limit(100 * LIMIT)
    async def large(request: Request) -> int:
        return len(await request.body())

    app.include_router(router)

    assert client.post("/batch/small", content=b"x" * 9).status_code == 413
    assert client.post("/batch/large", content=b"x" * (10 * LIMIT)).json() == 10 * LIMIT
    assert client.post("/batch/large", content=chunks(100 * LIMIT)).status_code == 413


def test_body_limit_refuses_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        body_limit(-1)


def test_max_sql_int_bounds_a_parameter_to_what_sql_holds(app: FastAPI, client: TestClient) -> None:
    @app.get("/rows")
    async def rows(offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0) -> int:
        return offset

    assert client.get("/rows", params={"offset": 2**63 - 1}).status_code == 200
    response = client.get("/rows", params={"offset": "9999999999999999999"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
