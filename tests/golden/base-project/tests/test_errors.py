import logging
from http import HTTPStatus

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator

PROBLEM_JSON = "application/problem+json"


# The loggers a failed request writes to: the app's error handler and the server.
SERVER_ERROR_LOGGERS = {"golden_api.errors", "uvicorn.error"}


def server_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return the errors logged for a failed request.

    Only those loggers count: another library's error logged meanwhile (the
    pool reporting a connection an earlier test left to the garbage
    collector) is not this request's.
    """
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name in SERVER_ERROR_LOGGERS
    ]


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/no-such-page",
    }


def test_wrong_method_is_a_405_problem_with_an_allow_header(client: TestClient) -> None:
    response = client.delete("/health")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["title"] == "Method Not Allowed"


def test_allow_names_the_methods_of_every_route_at_the_path(
    app: FastAPI, client: TestClient
) -> None:
    # Starlette's own 405 names only the first route that matched the path.
    router = APIRouter(prefix="/things")

    @router.get("")
    async def list_things() -> list[str]:
        return []

    @router.post("")
    async def create_thing() -> str:
        return "created"

    @app.delete("/things")
    async def delete_things() -> None:
        return None

    app.include_router(router)

    response = client.patch("/things")

    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, POST"


def test_a_long_path_is_not_echoed_in_full(client: TestClient) -> None:
    response = client.get("/" + "a" * 7000)

    assert response.status_code == 404
    assert response.json()["instance"].endswith("…")
    assert len(response.content) < 1000


def test_a_long_detail_is_shortened(app: FastAPI, client: TestClient) -> None:
    @app.get("/items/{item_id}")
    async def get_item(item_id: str) -> None:
        raise HTTPException(404, detail=f"No item {item_id}.")

    response = client.get("/items/" + "7" * 7000)

    assert response.status_code == 404
    assert len(response.json()["detail"]) <= 1000
    assert len(response.content) < 2000


def test_http_exception_keeps_its_detail_and_headers(app: FastAPI, client: TestClient) -> None:
    @app.get("/private")
    async def private() -> None:
        raise HTTPException(401, detail="Log in first.", headers={"WWW-Authenticate": "Bearer"})

    response = client.get("/private")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "Log in first."
    assert response.json()["instance"] == "/private"


def test_structured_http_exception_detail_goes_in_errors(app: FastAPI, client: TestClient) -> None:
    @app.get("/conflict")
    async def conflict() -> None:
        raise HTTPException(409, detail={"field": "name", "reason": "taken"})

    body = client.get("/conflict").json()

    assert body["detail"] == "Conflict"
    assert body["errors"] == {"field": "name", "reason": "taken"}


class Item(BaseModel):
    name: str
    quantity: int

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


def test_invalid_request_is_a_422_problem_listing_the_errors(
    app: FastAPI, client: TestClient
) -> None:
    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    response = client.post("/items", json={"name": " ", "quantity": "many"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert body["title"] == HTTPStatus(422).phrase
    assert body["instance"] == "/items"
    # The custom validator's ValueError is serialised too, not dropped or crashing.
    errors = {tuple(error["loc"]): error for error in body["errors"]}
    assert errors[("body", "name")]["msg"] == "Value error, must not be blank"
    assert errors[("body", "name")]["ctx"] == {"error": "must not be blank"}
    assert errors[("body", "quantity")]["type"] == "int_parsing"


class Order(BaseModel):
    quantity: int
    note: str = ""


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_a_body_are_a_422_problem(
    app: FastAPI, client: TestClient, number: str
) -> None:
    # The error repeats the value, and strict JSON has no NaN or Infinity.
    @app.post("/orders")
    async def create_order(order: Order) -> Order:
        return order

    response = client.post(
        "/orders",
        content='{"quantity": ' + number + "}",
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "quantity"]
    assert isinstance(error["input"], str)


def test_a_missing_field_beside_a_non_finite_number_is_a_422_problem(
    app: FastAPI, client: TestClient
) -> None:
    # A missing field's error repeats the whole object, NaN included.
    @app.post("/orders")
    async def create_order(order: Order) -> Order:
        return order

    response = client.post(
        "/orders", content='{"note": NaN}', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert {tuple(error["loc"]) for error in response.json()["errors"]} == {
        ("body", "quantity"),
        ("body", "note"),
    }


def test_a_validation_error_echoes_little_of_a_large_input(
    app: FastAPI, client: TestClient
) -> None:
    @app.post("/orders")
    async def create_order(order: Order) -> Order:
        return order

    many_orders = [{"quantity": "lots", "note": "x" * 1000} for _ in range(200)]
    response = client.post("/orders", json={"quantity": "x" * 100_000, "nested": many_orders})

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["type"] == "int_parsing"
    assert len(error["input"]) <= 200
    assert len(response.content) < 2000


def test_a_body_with_many_errors_lists_a_bounded_number(app: FastAPI, client: TestClient) -> None:
    @app.post("/orders/batch")
    async def create_orders(orders: list[Order]) -> list[Order]:
        return orders

    response = client.post("/orders/batch", json=[{"quantity": "lots"}] * 1000)

    assert response.status_code == 422
    body = response.json()
    assert len(body["errors"]) == 50
    assert "50 of 1000" in body["detail"]


def test_deeply_nested_input_is_a_4xx_problem(app: FastAPI, client: TestClient) -> None:
    @app.post("/orders")
    async def create_order(order: Order) -> Order:
        return order

    for depth in (500, 900, 100_000):
        nested = "[" * depth + "]" * depth
        response = client.post(
            "/orders",
            content='{"quantity": 1, "note": ' + nested + "}",
            headers={"content-type": "application/json"},
        )

        assert response.status_code in {400, 422}, depth
        assert response.headers["content-type"] == PROBLEM_JSON


def test_unhandled_error_is_a_500_problem_that_leaks_nothing(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred.",
        "instance": "/boom",
    }
    assert "hunter2" not in response.text
    # The traceback is logged, under the id the client was given.
    [record] = server_errors(caplog)
    assert record.exc_info is not None
    assert "password=hunter2" in caplog.text
    assert getattr(record, "request_id", None) == response.headers["x-request-id"]


def test_an_unhandled_error_is_logged_once(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    # Starlette re-raises the exception after answering 500, so that the server
    # sees it; with raise_server_exceptions the test client hands it to us.
    with TestClient(app) as client, pytest.raises(RuntimeError) as exc_info:
        client.get("/boom")
    # What uvicorn does with an exception that leaves the app:
    logging.getLogger("uvicorn.error").error(
        "Exception in ASGI application", exc_info=exc_info.value
    )

    errors = server_errors(caplog)
    assert [record.getMessage() for record in errors] == ["Unhandled exception during GET /boom"]


def test_the_server_still_logs_exceptions_the_app_did_not(
    caplog: pytest.LogCaptureFixture, app: FastAPI
) -> None:
    del app  # Builds the app, which configures logging.
    error = RuntimeError("raised outside the app's handlers")

    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)

    assert "Exception in ASGI application" in caplog.text
