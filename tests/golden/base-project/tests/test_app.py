from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from golden_api import _fastscaffold
from golden_api.main import create_app
from golden_api.settings import Settings

ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}


def test_the_app_keeps_its_settings(app: FastAPI, settings: Settings) -> None:
    assert app.state.settings is settings


def test_pattern_routers_and_lifespan_hooks_are_wired_in(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    # Stand-ins for what `fastscaffold add` writes into _fastscaffold.py.
    events: list[str] = []
    router = APIRouter()

    @router.get("/from-a-pattern")
    async def from_a_pattern() -> dict[str, str]:
        return {"ok": "yes"}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    monkeypatch.setattr(_fastscaffold, "include_routers", lambda app: app.include_router(router))
    monkeypatch.setattr(_fastscaffold, "lifespan", lifespan)

    with TestClient(create_app(settings)) as client:
        assert events == ["start"]
        assert client.get("/from-a-pattern").json() == {"ok": "yes"}
    assert events == ["start", "stop"]


def test_cors_is_off_when_no_origin_is_configured(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": ORIGIN})

    assert "access-control-allow-origin" not in response.headers
    assert client.options("/health", headers=PREFLIGHT).status_code == 405


def test_cors_allows_the_configured_origins(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(cors_allow_origins=(ORIGIN,)))

    with TestClient(app) as client:
        preflight = client.options("/health", headers=PREFLIGHT)
        response = client.get("/health", headers={"Origin": ORIGIN})
        other = client.get("/health", headers={"Origin": "https://evil.example.com"})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-origin"] == ORIGIN
    # Browser code may read the request id, to quote it in a bug report, and
    # the Location of what a request created, to follow it.
    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert {"x-request-id", "location"} <= set(exposed)
    assert "access-control-allow-origin" not in other.headers


def test_frontend_origins_drive_cors_unless_cors_origins_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("FRONTEND_ORIGINS", ORIGIN)
    with TestClient(create_app(Settings())) as client:
        response = client.get("/health", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN

    # Set, even empty, CORS_ALLOW_ORIGINS wins over FRONTEND_ORIGINS for CORS.
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "")
    with TestClient(create_app(Settings())) as client:
        response = client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_served_by_default(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_can_be_switched_off(make_settings: Callable[..., Settings], path: str) -> None:
    app = create_app(make_settings(docs_enabled=False))

    with TestClient(app) as client:
        assert client.get(path).status_code == 404
