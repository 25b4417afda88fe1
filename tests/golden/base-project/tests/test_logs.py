import io
import json
import logging

import pytest

from golden_api.logs import HANDLER_NAME, configure_logging


def test_text_lines_have_level_logger_and_message() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)

    name = "golden_api.orders"
    logging.getLogger(name).warning("order %s shipped", 42)

    line = stream.getvalue().strip()
    assert line.endswith(f"WARNING  {name} [-] order 42 shipped")


def test_json_lines_are_one_object_each_with_the_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("golden_api").exception(
            "failed", extra={"order_id": 42, "level": "not allowed to replace the level"}
        )

    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert record["logger"] == "golden_api"
    assert record["message"] == "failed"
    assert record["order_id"] == 42
    assert record["request_id"] is None
    assert "ValueError: bad input" in record["exception"]
    assert record["timestamp"].endswith("+00:00")


def test_the_level_filters_lines() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "text", stream=stream)

    logging.getLogger("golden_api").info("not shown")

    assert stream.getvalue() == ""


def test_configuring_twice_does_not_duplicate_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "text", stream=first)
    configure_logging("INFO", "text", stream=second)

    logging.getLogger("golden_api").info("once")

    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1


@pytest.mark.parametrize("name", ["uvicorn.error", "uvicorn.access"])
def test_uvicorn_lines_use_the_same_handler(name: str) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    logging.getLogger(name).info("from uvicorn")

    assert json.loads(stream.getvalue())["logger"] == name


@pytest.mark.parametrize(("level", "built"), [("INFO", True), ("WARNING", False)])
def test_an_access_line_the_level_would_drop_is_never_built(level: str, built: bool) -> None:
    configure_logging(level, "text", stream=io.StringIO())

    # uvicorn builds each request's access line only where this holds.
    assert logging.getLogger("uvicorn.access").hasHandlers() is built
