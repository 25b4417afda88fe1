import gc
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import golden_api
from golden_api import _fastscaffold, heap, main
from golden_api.settings import Settings

# Where the package is imported from (the project, or site-packages once installed).
PACKAGE_FILE = Path(golden_api.__file__).resolve()
PACKAGE_PARENT = str(PACKAGE_FILE.parent.parent)

# Starts two apps in a fresh interpreter (this one may have frozen its heap already)
# and prints how many objects are frozen after the first start, whether the first app
# is among them, and whether the second one is still seen by the collector.
TWO_STARTS = textwrap.dedent(
    """
    import gc
    from fastapi.testclient import TestClient
    from golden_api.main import create_app
    from golden_api.settings import Settings

    assert gc.get_freeze_count() == 0
    first = create_app(Settings(environment="test"))
    with TestClient(first) as client:
        assert client.get("/health").status_code == 200
        frozen = gc.get_freeze_count()
    second = create_app(Settings(environment="test"))
    with TestClient(second):
        pass
    # gc.get_objects() lists the three generations, not the frozen objects.
    collected = {id(found) for found in gc.get_objects()}
    print(frozen, id(first) not in collected, id(second) in collected, gc.get_threshold()[0])
    """
)


def test_starting_the_app_freezes_its_heap_once_per_process(tmp_path: Path) -> None:
    path = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", TWO_STARTS],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen, first_frozen, second_collected, young = done.stdout.split()

    assert int(frozen) > 10_000  # the modules, the app and what its lifespan started
    assert first_frozen == "True"
    assert second_collected == "True"  # not frozen: its garbage stays collectable
    assert int(young) == heap.YOUNG_COLLECTION_THRESHOLD


def test_the_heap_is_frozen_after_the_patterns_started(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        events.append("patterns started")
        yield

    monkeypatch.setattr(_fastscaffold, "lifespan", lifespan)
    monkeypatch.setattr(main, "freeze_startup_heap", lambda: events.append("frozen"))

    with TestClient(main.create_app(settings)):
        assert events == ["patterns started", "frozen"]


@pytest.mark.parametrize(
    ("before", "after"),
    [(700, heap.YOUNG_COLLECTION_THRESHOLD), (50_000, 50_000), (0, 0)],
    ids=["default-raised", "higher-kept", "off-kept"],
)
def test_the_young_threshold_is_only_ever_raised(
    monkeypatch: pytest.MonkeyPatch, before: int, after: int
) -> None:
    monkeypatch.setattr(heap._Freezer, "done", False)
    monkeypatch.setattr(gc, "collect", lambda: 0)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    saved = gc.get_threshold()
    try:
        gc.set_threshold(before, 10, 10)
        heap.freeze_startup_heap()
        assert gc.get_threshold() == (after, 10, 10)
    finally:
        gc.set_threshold(*saved)


def test_only_the_first_call_freezes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(heap._Freezer, "done", False)
    monkeypatch.setattr(gc, "collect", lambda: calls.append("collect"))
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 10, 10))  # CPython's default
    monkeypatch.setattr(gc, "set_threshold", lambda *counts: calls.append(f"threshold {counts}"))

    assert heap.freeze_startup_heap() is True
    assert heap.freeze_startup_heap() is False
    young = heap.YOUNG_COLLECTION_THRESHOLD
    assert calls == ["collect", "freeze", f"threshold {(young, 10, 10)}"]
