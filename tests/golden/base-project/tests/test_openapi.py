from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from golden_api.errors import document_problems, problem_responses

PROBLEM_JSON = "application/problem+json"
OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class Widget(BaseModel):
    name: str


class Legacy(BaseModel):
    reason: str


@pytest.fixture
def document(app: FastAPI, client: TestClient) -> dict[str, Any]:
    """The OpenAPI document of an app with routes that declare errors in every way."""
    router = APIRouter(prefix="/widgets", responses=problem_responses(404))

    @router.post("", status_code=201, responses=problem_responses(409))
    async def create_widget(widget: Widget) -> Widget:
        return widget

    @router.get("/{widget_id}", responses={410: {"model": Legacy}, 400: {"description": "Bad"}})
    async def get_widget(widget_id: int) -> Widget:
        raise HTTPException(404, detail=f"No widget {widget_id}.")

    app.include_router(router)
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    }


def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == [PROBLEM_JSON], (key, status)
                assert "schema" in response["content"][PROBLEM_JSON], (key, status)


def test_every_operation_documents_500(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        assert "500" in operation["responses"], key


def test_422_has_the_validation_problem_schema(document: dict[str, Any]) -> None:
    schema = document["paths"]["/widgets"]["post"]["responses"]["422"]["content"][PROBLEM_JSON]

    assert schema == {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    components = document["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "ValidationErrorDetail"} <= set(components)
    assert "errors" in components["ValidationProblem"]["required"]
    # FastAPI's `{"detail": [...]}` schemas describe nothing the app sends.
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components


def test_declared_statuses_are_documented(document: dict[str, Any]) -> None:
    create = document["paths"]["/widgets"]["post"]["responses"]
    read = document["paths"]["/widgets/{widget_id}"]["get"]["responses"]

    assert {"201", "400", "404", "409", "413", "422", "500"} <= set(create)
    assert {"200", "400", "404", "410", "422", "500"} <= set(read)
    # A model declared for an error keeps its schema, under the served media type.
    assert read["410"]["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Legacy"}
    # Only operations with a body can be refused as too large.
    assert "413" not in read


def test_the_document_matches_what_is_served(client: TestClient, document: dict[str, Any]) -> None:
    del document  # Adds the routes.
    missing = client.get("/widgets/7")
    invalid = client.post("/widgets", json={})

    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == PROBLEM_JSON
    assert set(invalid.json()) >= {"type", "title", "status", "detail", "instance", "errors"}
    # A JSON body that is not UTF-8: FastAPI's 400, documented (above) and a problem.
    undecodable = client.post(
        "/widgets", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
    )
    assert undecodable.status_code == 400
    assert undecodable.headers["content-type"] == PROBLEM_JSON


def test_head_is_not_documented_twice() -> None:
    schema = {
        "paths": {
            "/health": {
                "get": {"operationId": "health", "responses": {}},
                "head": {"operationId": "health", "responses": {}},
            }
        }
    }

    documented = document_problems(schema)

    assert set(documented["paths"]["/health"]) == {"get"}
    assert "head" in schema["paths"]["/health"], "the input is left unchanged"


def test_documenting_twice_changes_nothing(document: dict[str, Any]) -> None:
    assert document_problems(document) == document


def test_routes_added_later_are_documented(app: FastAPI, client: TestClient) -> None:
    before = client.get("/openapi.json").json()

    @app.get("/late")
    async def late() -> None:
        return None

    after = client.get("/openapi.json").json()
    assert "/late" not in before["paths"]
    assert "500" in after["paths"]["/late"]["get"]["responses"]
