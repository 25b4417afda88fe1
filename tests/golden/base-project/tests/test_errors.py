import logging
from http import HTTPStatus

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator

PROBLEM_JSON = "application/problem+json"


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


def test_wrong_method_is_a_405_problem_that_keeps_the_allow_header(client: TestClient) -> None:
    response = client.delete("/health")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET"
    assert response.json()["title"] == "Method Not Allowed"


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
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "password=hunter2" in caplog.text
    assert getattr(record, "request_id", None) == response.headers["x-request-id"]
