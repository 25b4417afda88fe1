"""A real browser for the end-to-end tests: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser download is never used: the tests launch the
system's Chromium (`CHROMIUM`, or FASTSCAFFOLD_CHROMIUM), so they run offline
and test the browser users have. A missing Chromium, or a missing Playwright,
fails the tests instead of skipping them: a browser suite that silently
skips proves nothing.

`Browsing` opens browser contexts for one test; when the test fails it saves
a screenshot of every page it opened under `ARTIFACTS` (or
FASTSCAFFOLD_ARTIFACTS) and prints where.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path(os.environ.get("FASTSCAFFOLD_CHROMIUM", "/usr/bin/chromium"))
"""The browser the tests drive (Debian's `chromium` package)."""

ARTIFACTS = Path(os.environ.get("FASTSCAFFOLD_ARTIFACTS", REPO_ROOT / "tests-artifacts"))
"""Where screenshots of failed browser tests are saved (git ignores it)."""

# Every request a page makes must stay on the loopback server: anything else
# (a CDN, a font service) is aborted, so a page that needs the internet fails.
_OFF_HOST = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
"""Each phase's report of a test, stashed by the conftest's makereport hook."""


def launch_chromium() -> Iterator[Browser]:
    """Start headless Chromium, yield it, close it; fail (never skip) if it cannot start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[dev]' (it is in the dev extra)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No Chromium at {CHROMIUM}: install it (apt-get install chromium) or point "
            "FASTSCAFFOLD_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browsing:
    """Browser contexts opened for one test, offline but for the app under test."""

    browser: Browser
    base_url: str
    contexts: list[BrowserContext] = field(default_factory=list)
    policy_violations: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        """Open a page in a context of its own (its own cookies: another user)."""
        context = self.browser.new_context(base_url=self.base_url, accept_downloads=True)
        context.set_default_timeout(15_000)
        context.route(_OFF_HOST, lambda route: route.abort())
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._watch_console)
        return page

    def _watch_console(self, message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text:
            self.policy_violations.append(text)

    def save_screenshots(self, name: str) -> list[Path]:
        """Save a screenshot of every open page; return the files written."""
        folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for number, context in enumerate(self.contexts):
            for index, page in enumerate(context.pages):
                path = folder / f"context{number}-page{index}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                except Exception as exc:  # a broken page must not hide the failure
                    print(f"could not screenshot {page.url}: {exc}")
                    continue
                saved.append(path)
        return saved

    def close(self) -> None:
        """Close every context opened."""
        for context in self.contexts:
            context.close()


def browsing(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[Browsing]:
    """Yield a `Browsing` for the test; on failure, save and print its screenshots."""
    session = Browsing(browser, base_url)
    try:
        yield session
    finally:
        reports = request.node.stash.get(REPORTS, {})
        if any(report.failed for report in reports.values()):
            for path in session.save_screenshots(request.node.nodeid):
                print(f"screenshot of the failed test: {path}")
        session.close()
