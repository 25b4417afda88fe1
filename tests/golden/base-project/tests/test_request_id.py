import io
import json
import logging
import os
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from golden_api.logs import configure_logging
from golden_api.request_id import new_request_id


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


def test_ids_are_unique_across_forked_workers() -> None:
    # Workers forked from one parent must not repeat the parent's sequence.
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)

    from_parent = {new_request_id() for _ in range(1000)}
    assert re.fullmatch(r"[0-9a-f]{32}", from_child)
    assert from_child not in from_parent
    assert len(from_parent) == 1000
    # A different prefix, not just a different counter value.
    assert from_child[:16] not in {request_id[:16] for request_id in from_parent}


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
