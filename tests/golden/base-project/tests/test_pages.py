"""The browser pages: served in development, 404 when switched off, never in OpenAPI.

Every page the applied patterns add is checked the same way: it is linked
from /, it loads only files this app serves, and its Content-Security-Policy
allows no inline script.
"""

import importlib
import pkgutil
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import golden_api as package
from golden_api.main import create_app
from golden_api.pages import (
    CONTENT_SECURITY_POLICY,
    Page,
    included_pages,
)
from golden_api.settings import Settings


class _Links(HTMLParser):
    """Collects the URLs a page links to or loads (href and src attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        self.urls += [v for k, v in attrs if k in {"src", "href"} and v]


def links(html: str, base: str) -> list[str]:
    """Return the page's URLs, resolved against the page's own path."""
    parser = _Links()
    parser.feed(html)
    return [urljoin(base, url) for url in parser.urls]


def page_paths(app: FastAPI) -> list[str]:
    return [f"/pages/{page.slug}" for page in included_pages(app)]


def shipped_pages() -> list[Page]:
    """Every page the package's `page` modules define (one per pattern that has a page)."""
    found = []
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        if module.name.rpartition(".")[2] == "page":
            found.append(importlib.import_module(module.name).PAGE)
    return found


def test_every_page_module_is_served(app: FastAPI) -> None:
    served = included_pages(app)

    assert len(served) == len(set(served))
    assert set(served) == set(shipped_pages())


def test_the_landing_page_links_every_page_and_the_docs(app: FastAPI, client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    linked = links(response.text, "/")
    assert {"/docs", "/redoc", *page_paths(app)} <= set(linked)
    for url in linked:
        assert client.get(url).status_code == 200, url


def test_every_page_loads_its_own_script_and_nothing_from_elsewhere(
    app: FastAPI, client: TestClient
) -> None:
    for path in page_paths(app):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy, path
        assert "unsafe-inline" not in policy, path
        assert "<script>" not in page.text, path  # inline script would be blocked
        urls = links(page.text, path)
        assert f"{path}/page.js" in urls, (path, urls)
        for url in urls:
            assert url.startswith("/"), (path, url)
            response = client.get(url)
            assert response.status_code == 200, (path, url)
            assert response.content, (path, url)
        script = client.get(f"{path}/page.js")
        assert script.headers["content-type"].startswith("text/javascript"), path


@pytest.mark.parametrize(
    "overrides",
    [{"environment": "production"}, {"pages_enabled": False}],
    ids=["production", "disabled"],
)
def test_switched_off_pages_are_not_served(
    make_settings: Callable[..., Settings], overrides: dict[str, object]
) -> None:
    on = create_app(make_settings())
    app = create_app(make_settings(**overrides))

    with TestClient(app) as client:
        for path in ["/", "/pages/pages.css", *page_paths(on)]:
            assert client.get(path).status_code == 404, path
            assert client.get(f"{path}/page.js").status_code == 404, path


def test_production_serves_the_pages_when_asked(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(environment="production", pages_enabled=True))

    with TestClient(app) as client:
        assert client.get("/").status_code == 200


def test_the_pages_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/" not in paths
    assert not [path for path in paths if path.startswith("/pages")]


def test_without_docs_the_landing_page_says_so(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(docs_enabled=False))) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert "DOCS_ENABLED=false" in response.text
    assert "/docs" not in links(response.text, "/")
