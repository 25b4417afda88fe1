from fastscaffold.manifest import Hook, Wiring
from fastscaffold.record import Record, Unit
from fastscaffold.wiring import AppWiring, render_patterns_doc, wiring_from_record


def _unit(name: str, requires: list[str], **hooks: list[dict[str, str]]) -> Unit:
    wiring = Wiring(**{key: tuple(Hook(**h) for h in value) for key, value in hooks.items()})
    return Unit(
        template=name, version="1", answers={}, kind="pattern", requires=requires, wiring=wiring
    )


def test_wiring_orders_requirements_first_and_imports_each_module_once() -> None:
    record = Record(generator_version="1")
    record.units["project"] = Unit(template="project", version="1", answers={})
    record.units["tasks"] = _unit(
        "tasks",
        ["db"],
        routers=[{"module": "tasks.api", "attr": "router"}],
        commands=[{"module": "tasks.api", "attr": "register"}],
    )
    record.units["db"] = _unit("db", [], lifespans=[{"module": "db", "attr": "lifespan"}])
    wiring = wiring_from_record(record)
    assert list(wiring.patterns) == ["db", "tasks"]
    assert list(wiring.imports) == ["from . import db", "from .tasks import api as tasks_api"]

    assert list(wiring.routers) == ["tasks_api.router"]
    assert list(wiring.lifespans) == ["db.lifespan"]
    assert list(wiring.commands) == ["tasks_api.register"]


def test_long_pattern_lists_are_laid_out_like_ruff_format() -> None:
    short = AppWiring(patterns=["websockets"])
    assert short.patterns_tuple() == '("websockets",)'
    long = AppWiring(patterns=["websockets", "tasks", "upload", "streaming", "versioning", "extra"])
    assert long.patterns_tuple().startswith('(\n    "websockets",\n')


def test_top_level_modules_share_one_import_line() -> None:
    record = Record(generator_version="1")
    record.units["project"] = Unit(template="project", version="1", answers={})
    record.units["redis"] = _unit("redis", [], lifespans=[{"module": "redis_client", "attr": "x"}])
    record.units["db"] = _unit("db", [], lifespans=[{"module": "database", "attr": "x"}])
    assert list(wiring_from_record(record).imports) == ["from . import database, redis_client"]


def test_patterns_doc_lists_options_and_settings_and_links_docs_that_exist() -> None:
    record = Record(generator_version="1")
    record.units["project"] = Unit(template="project", version="1")
    record.units["cache"] = Unit(
        template="cache",
        version="1",
        kind="block",
        summary="A cache",
        answers={"size": 64},
        wiring=Wiring(settings=({"name": "CACHE_URL", "default": "", "help": "Where"},)),  # type: ignore[arg-type]
    )
    doc = render_patterns_doc(record, {"docs/cache.md"})
    assert doc is not None
    text = doc.decode()
    assert "## cache (building block)" in text and "Options: `size=64`." in text
    assert "| `CACHE_URL` | `` | Where |" in text and "[docs/cache.md](docs/cache.md)" in text
    assert "docs/cache.md" not in render_patterns_doc(record, set()).decode()  # type: ignore[union-attr]
    record.units.pop("cache")
    assert render_patterns_doc(record, set()) is None
