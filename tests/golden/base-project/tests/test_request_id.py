import io
import json
import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from golden_api.logs import configure_logging


def test_a_request_without_an_id_gets_a_new_one(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_well_formed_incoming_id_is_kept(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "lb-7f3a.42:1"})

    assert response.headers["x-request-id"] == "lb-7f3a.42:1"


@pytest.mark.parametrize("incoming", ["", "has spaces", "line\tbreak", "x" * 129])
def test_a_malformed_incoming_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": incoming})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_log_lines_carry_the_request_id(app: FastAPI, client: TestClient) -> None:
    logger_name = "golden_api.work"

    @app.get("/work")
    async def work() -> dict[str, str]:
        logging.getLogger(logger_name).info("working", extra={"items": 3})
        return {}

    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    response = client.get("/work")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [line for line in lines if line["logger"] == logger_name]
    assert line["message"] == "working"
    assert line["items"] == 3
    assert line["request_id"] == response.headers["x-request-id"]
