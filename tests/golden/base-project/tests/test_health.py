from fastapi.testclient import TestClient

from golden_api import __version__


def test_health_reports_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_describes_the_service(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["info"]["title"] == "Golden Api"
    assert schema["info"]["version"] == __version__
    assert schema["paths"]["/health"]["get"]["tags"] == ["health"]


def test_head_health_answers_like_get_without_a_body(client: TestClient) -> None:
    get = client.get("/health")
    head = client.head("/health")

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
