from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send


@pytest.fixture
def any_client(app: FastAPI) -> TestClient:
    """A client for an app with routes of every kind; it gets 500s as responses."""

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("<script>alert(1)</script>")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"<html>"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.post("/numbers")
    async def numbers(value: int) -> int:
        return value

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("HEAD", "/health", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/text", 200),
        ("GET", "/stream", 200),
        ("GET", "/no-such-page", 404),
        ("PUT", "/health", 405),
        ("POST", "/numbers?value=many", 422),
        ("GET", "/boom", 500),
    ],
)
def test_every_response_forbids_content_sniffing(
    any_client: TestClient, method: str, path: str, status: int
) -> None:
    response = any_client.request(method, path)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    # Set once, even where the response sets it itself (problems do).
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


def test_headers_an_app_sends_in_capitals_are_not_doubled(app: FastAPI) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        del scope, receive
        headers = [(b"X-Content-Type-Options", b"nosniff"), (b"X-Request-ID", b"not-the-id")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"raw"})

    app.mount("/raw", raw)
    response = TestClient(app).get("/raw", headers={"X-Request-ID": "the-id"})

    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers.get_list("x-request-id") == ["the-id"]
