"""Fixtures every test shares once the tasks pattern is applied.

``new --set tasks.engine=taskiq`` makes taskiq the default of TASKS_ENGINE,
and the taskiq engine refuses to start without Redis. Without ``REDIS_URL``
the tests run the embedded engine instead, so every test that starts the
app (the tasks pattern's and everyone else's) runs on a machine with no
Redis; with ``REDIS_URL`` set they run the configured default.
"""

import os

import pytest


@pytest.fixture(autouse=True)
def tasks_engine_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the embedded engine when the tests have no Redis to run taskiq on."""
    if not os.environ.get("REDIS_URL"):
        monkeypatch.setenv("TASKS_ENGINE", "embedded")
