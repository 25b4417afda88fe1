import tomllib

from fastscaffold.blocks import ENV_STYLE, remove_block, set_block
from fastscaffold.record import Record, Unit
from fastscaffold.wiring import Wiring, add_dependencies, remove_dependencies, wiring_from_record

SETTING_LINES = ["# Frames buffered per client", "# WS_QUEUE_SIZE=64"]


def set_env_block(text: str, pattern: str, lines: list[str]) -> str | None:
    return set_block(text, pattern, lines, ENV_STYLE)


def remove_env_block(text: str, pattern: str) -> str | None:
    return remove_block(text, pattern, ENV_STYLE)


PYPROJECT = """\
[project]
name = "shop"
# Keep these sorted, please.
dependencies = [
    "fastapi>=0.164",  # the framework
    "httpx>=0.27",
]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""


def test_dependencies_are_added_once_and_removed_exactly() -> None:
    text, added = add_dependencies(
        PYPROJECT,
        {"dependencies": ["redis>=5", "HTTPX>=0.20"], "dev_dependencies": ["fakeredis>=2"]},
    )
    assert added == {"dependencies": ["redis>=5"], "dev_dependencies": ["fakeredis>=2"]}
    data = tomllib.loads(text)
    assert data["project"]["dependencies"] == ["fastapi>=0.164", "httpx>=0.27", "redis>=5"]
    assert data["project"]["optional-dependencies"]["dev"] == ["pytest>=8", "fakeredis>=2"]
    assert "# Keep these sorted, please." in text and "# the framework" in text
    # Removing restores the original text; only the one-line dev array, which
    # became multi-line when an item was added, keeps its new layout.
    assert remove_dependencies(text, added) == PYPROJECT.replace(
        'dev = ["pytest>=8"]', 'dev = [\n    "pytest>=8",\n]'
    )


def test_env_block_is_added_replaced_and_removed() -> None:
    original = "# LOG_LEVEL=info\n"
    added = set_env_block(original, "websockets", SETTING_LINES)
    assert added is not None
    assert "# WS_QUEUE_SIZE=64" in added and added.startswith(original)
    replaced = set_env_block(added, "websockets", ["# WS_QUEUE_SIZE=128"])
    assert replaced is not None and "# WS_QUEUE_SIZE=128" in replaced
    assert replaced.count(">>> fastscaffold: websockets") == 1
    assert remove_env_block(replaced, "websockets") == original


def test_a_damaged_env_block_is_left_alone() -> None:
    added = set_env_block("", "websockets", SETTING_LINES)
    assert added is not None
    damaged = added.replace("# <<< fastscaffold: websockets\n", "")
    assert set_env_block(damaged, "websockets", SETTING_LINES) is None
    assert remove_env_block(damaged, "websockets") is None


def _unit(name: str, requires: list[str], **wiring: list[dict[str, str]]) -> Unit:
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
    short = Wiring(patterns=["websockets"])
    assert short.patterns_tuple() == '("websockets",)'
    long = Wiring(patterns=["websockets", "tasks", "upload", "streaming", "versioning", "extra"])
    assert long.patterns_tuple().startswith('(\n    "websockets",\n')


def test_top_level_modules_share_one_import_line() -> None:
    record = Record(generator_version="1")
    record.units["project"] = Unit(template="project", version="1", answers={})
    record.units["redis"] = _unit("redis", [], lifespans=[{"module": "redis_client", "attr": "x"}])
    record.units["db"] = _unit("db", [], lifespans=[{"module": "database", "attr": "x"}])
    assert list(wiring_from_record(record).imports) == ["from . import database, redis_client"]
