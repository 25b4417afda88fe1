"""The generated app's browser pages, in a real browser (headless Chromium).

One project with every pattern is generated per module, seeded with a few
export rows and served by uvicorn on a free loopback port. Each test drives
the pages as a user would and checks what the user would see; every request
that leaves the loopback server is aborted, so the pages (and the API docs)
are proved to work offline. A failed test leaves screenshots in
tests-artifacts/ (see tests/e2e/browser.py).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest

from fastscaffold.catalog import load_catalog
from fastscaffold.creation import NewOptions, new_project
from tests.e2e.browser import Browsing, browsing, launch_chromium
from tests.services import ServedApp, serve_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload

pytestmark = pytest.mark.e2e

ROWS = 25  # export rows seeded
PAGES = {"chat", "tasks", "upload", "exports", "versions"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # What `fastscaffold new demo --all` makes: every pattern (blocks come with them).
    every = tuple(p.name for p in load_catalog().values() if p.manifest.kind == "pattern")
    parent = tmp_path_factory.mktemp("pages-browser")
    return new_project(NewOptions(name="demo", parent=parent, patterns=every)).destination


@pytest.fixture(scope="module")
def server(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    data = tmp_path_factory.mktemp("pages-data")
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'app.db'}",
        "UPLOAD_DIR": str(data / "uploads"),
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "demo", "seed-items", "--rows", str(ROWS)],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    with serve_app(project, env=env) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_chromium()


@pytest.fixture
def web(request: pytest.FixtureRequest, browser: Browser, server: ServedApp) -> Iterator[Browsing]:
    yield from browsing(request, browser, server.url)


@pytest.fixture(autouse=True)
def _no_policy_violations(web: Browsing) -> Iterator[None]:
    # The pages' scripts and styles are files of their own: the strict CSP blocks nothing.
    yield
    assert web.policy_violations == []


def png() -> bytes:
    """Return a valid 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def chosen(name: str, media_type: str, content: bytes) -> FilePayload:
    """Return a file as a user picks it: a name, the type the browser declares, the bytes."""
    return {"name": name, "mimeType": media_type, "buffer": content}


def test_the_landing_page_links_every_pattern_page_and_the_docs(web: Browsing) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto("/")

    hrefs = {link.get_attribute("href") for link in page.locator("a").all()}
    assert {f"pages/{slug}" for slug in PAGES} | {"docs", "redoc"} <= hrefs
    page.get_by_role("link", name="Chat rooms").click()
    expect(page).to_have_url(f"{web.base_url}/pages/chat")
    expect(page.locator("h1")).to_have_text("Chat rooms")


def test_two_people_chat_and_see_each_other_in_the_room(web: Browsing) -> None:
    from playwright.sync_api import expect

    alice, bob = web.new_page(), web.new_page()
    for page in (alice, bob):
        page.goto("/pages/chat")
        # The welcome frame tells each page its own id.
        expect(page.locator("#status")).to_have_text(re.compile(r"^connected to lobby as \S+$"))
    for page in (alice, bob):
        expect(page.locator("#presence li")).to_have_count(2)
        expect(page.locator("#presence li", has_text="(you)")).to_have_count(1)

    alice.fill("#message", "hello from alice")
    alice.press("#message", "Enter")
    expect(bob.locator("#log")).to_contain_text("hello from alice")
    bob.fill("#message", "hi alice")
    bob.click("#send-button")
    expect(alice.locator("#log")).to_contain_text("hi alice")

    # Bob switches rooms: the lobby shows Alice alone; Bob's new room has him only.
    bob.click("button[data-room=random]")
    expect(bob.locator("#status")).to_have_text(re.compile(r"^connected to random as \S+$"))
    expect(alice.locator("#presence li")).to_have_count(1)
    expect(bob.locator("#presence li")).to_have_count(1)
    bob.fill("#message", "anyone here?")
    bob.press("#message", "Enter")
    expect(bob.locator("#log")).to_contain_text("anyone here?")
    expect(alice.locator("#log")).not_to_contain_text("anyone here?")


def test_a_task_runs_to_100_percent_and_another_is_cancelled(web: Browsing) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto("/pages/tasks")
    page.fill("#steps", "5")
    page.fill("#delay", "0.1")
    page.click("#launch-button")

    expect(page.locator("#status")).to_have_text("succeeded")
    expect(page.locator("#progress")).to_have_js_property("value", 100)
    expect(page.locator("#percent")).to_have_text("100%")

    page.fill("#steps", "100")
    page.fill("#delay", "0.2")
    page.click("#launch-button")
    expect(page.locator("#status")).to_have_text("running")
    page.click("#cancel-button")
    expect(page.locator("#status")).to_have_text("cancelled")


def test_an_upload_is_stored_and_a_spoofed_one_refused_with_the_servers_reason(
    web: Browsing, server: ServedApp
) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto("/pages/upload")
    page.set_input_files("#file", files=[chosen("dot.png", "image/png", png())])
    page.click("#upload-button")
    expect(page.locator("#result")).to_contain_text("Stored dot.png (image/png")
    expect(page.locator("#files")).to_contain_text("dot.png")

    # A PDF by its name and declared type, text by its content.
    spoof = b"This is not a PDF at all.\n"
    page.set_input_files("#file", files=[chosen("report.pdf", "application/pdf", spoof)])
    page.click("#upload-button")

    refused = httpx2.post(
        f"{server.url}/files", files={"file": ("report.pdf", spoof, "application/pdf")}
    )
    assert refused.status_code == 415
    expect(page.locator("#result")).to_contain_text("Refused: 415")
    expect(page.locator("#result .problem-detail")).to_have_text(refused.json()["detail"])


def test_the_csv_downloads_and_the_ndjson_streams_into_the_page(web: Browsing) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto("/pages/exports")
    with page.expect_download() as started:
        page.click("#csv")
    download = started.value
    assert download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,")
    assert len(lines) == ROWS + 1

    page.click("#watch")
    expect(page.locator("#status")).to_have_text(f"{ROWS} rows")
    expect(page.locator("#rows tr")).to_have_count(ROWS)
    expect(page.locator("#head th").first).to_have_text("id")


def test_the_versions_page_shows_each_versions_answer_and_headers(web: Browsing) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto("/pages/versions")
    rows = page.locator("#versions tr")
    expect(rows).to_have_count(2)
    for version in ("v1", "v2"):
        row = page.locator(f"#versions tr[data-version={version}]")
        expect(row).to_contain_text("200 OK")
        # Both versions are active: the page says no lifecycle header was sent.
        expect(row).to_contain_text("none (the version is active)")
        expect(row.get_by_role("link")).to_have_attribute("href", f"../api/{version}/docs")


@pytest.mark.parametrize("path", ["/docs", "/api/v1/docs", "/api/v2/docs"])
def test_the_docs_render_their_operations_offline(web: Browsing, path: str) -> None:
    from playwright.sync_api import expect

    page = web.new_page()
    page.goto(path)

    # Swagger UI builds one .opblock per operation once its script ran and read the document.
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 3
