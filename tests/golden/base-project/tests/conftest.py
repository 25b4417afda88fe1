"""Shared fixtures: settings for tests, an app built from them, and a client for it."""

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from golden_api import _fastscaffold
from golden_api.logs import HANDLER_NAME
from golden_api.main import create_app
from golden_api.settings import Settings, get_settings

# Fixtures the applied patterns' tests share (a database of its own per test, ...).
pytest_plugins = list(_fastscaffold.TEST_PLUGINS)

SettingsFactory = Callable[..., Settings]


@pytest.fixture(autouse=True)
def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep the developer's environment, `.env` file and logging set-up out of tests.

    Tests run in a temporary folder, so whatever the app writes to relative
    paths (a SQLite file, uploads under ./data) stays out of the project.
    """
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    # The handler may hold a stream that a test runner closes after this test.
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)


@pytest.fixture
def make_settings() -> SettingsFactory:
    """Return a function that builds test settings, with keyword overrides."""

    def make(**overrides: Any) -> Settings:
        return Settings(**{"environment": "test", **overrides})

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Settings for the default test app."""
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """An app built with the test settings; tests may add routes to it."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for the app; the `with` block runs the app's lifespan."""
    with TestClient(app) as client:
        yield client
