"""The docs pages work offline: every script, stylesheet and icon they load is the app's own.

Every page whose path ends in /docs or /redoc is checked, so the pages that
patterns add (per-version docs, ...) are held to the same rule.
"""

import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from golden_api.docs import ASSETS_PATH, SWAGGER_CSS
from golden_api.main import create_app
from golden_api.settings import Settings

# What each kind of asset must be served as (Python < 3.12 names JavaScript the old way).
CONTENT_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
    ".json": {"application/json"},
}
# A URL with a host: scheme-relative (//host) or absolute.
EXTERNAL_URL = re.compile(r"(?:https?:)?//[\w.-]+")
# Swagger UI's page names its document in its inline script.
SPEC_URL = re.compile(r"\burl: '([^']+)'")


class _LoadedUrls(HTMLParser):
    """Collects the URLs a page loads: src, href and ReDoc's spec-url attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        self.urls += [v for k, v in attrs if k in {"src", "href", "spec-url"} and v]


def loaded_urls(page: str) -> list[str]:
    parser = _LoadedUrls()
    parser.feed(page)
    return parser.urls + SPEC_URL.findall(page)


def docs_pages(app: FastAPI) -> list[str]:
    """Every docs page the app serves, the patterns' included."""
    return [
        path
        for context in iter_route_contexts(app.routes)
        if (path := context.path) and "GET" in (context.methods or ())
        if path.endswith(("/docs", "/redoc"))
    ]


def test_the_docs_pages_are_found(app: FastAPI) -> None:
    assert {"/docs", "/redoc"} <= set(docs_pages(app))


def test_every_docs_page_loads_only_what_the_app_serves(app: FastAPI, client: TestClient) -> None:
    for path in docs_pages(app):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert EXTERNAL_URL.findall(page.text) == [], path
        urls = loaded_urls(page.text)
        assert any(url.endswith(".js") for url in urls), (path, urls)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (path, url)
            content_type = response.headers["content-type"].split(";")[0]
            suffix = url[url.rindex(".") :]
            assert content_type in CONTENT_TYPES[suffix], (url, content_type)
            assert response.content, url


def test_assets_are_files_that_browsers_revalidate(client: TestClient) -> None:
    url = f"{ASSETS_PATH}/{SWAGGER_CSS}"
    first = client.get(url)
    assert first.status_code == 200
    assert int(first.headers["content-length"]) == len(first.content)

    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304
    assert again.content == b""


def test_the_assets_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert not [path for path in paths if path.startswith("/docs")]


def test_a_root_path_prefixes_every_url(app: FastAPI) -> None:
    with TestClient(app, root_path="/behind-a-proxy") as client:
        for path in ("/docs", "/redoc"):
            urls = loaded_urls(client.get(path).text)
            assert urls and all(url.startswith("/behind-a-proxy/") for url in urls), urls


def test_the_cdn_setting_loads_the_assets_from_the_cdn(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(docs_assets="cdn"))

    with TestClient(app) as client:
        for path in docs_pages(app):
            scripts = [url for url in loaded_urls(client.get(path).text) if url.endswith(".js")]
            assert scripts and all(url.startswith("https://cdn.") for url in scripts), scripts
        assert client.get(f"{ASSETS_PATH}/{SWAGGER_CSS}").status_code == 404


def test_no_assets_are_served_without_docs(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(docs_enabled=False))

    with TestClient(app) as client:
        for path in ["/docs", "/redoc", *docs_pages(app), f"{ASSETS_PATH}/{SWAGGER_CSS}"]:
            assert client.get(path).status_code == 404, path
