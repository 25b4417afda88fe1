from datetime import UTC, datetime, timedelta, timezone

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from golden_api.timestamps import UtcDateTime


class Event(BaseModel):
    at: UtcDateTime


def test_a_naive_datetime_is_taken_as_utc() -> None:
    # SQLite returns naive datetimes.
    event = Event(at=datetime(2024, 5, 1, 12, 30))

    assert event.at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert event.model_dump(mode="json") == {"at": "2024-05-01T12:30:00+00:00"}


def test_an_aware_datetime_is_converted_to_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))

    event = Event(at=datetime(2024, 5, 1, 14, 30, 0, 250000, tzinfo=paris_summer))

    assert event.model_dump_json() == '{"at":"2024-05-01T12:30:00.250000+00:00"}'


def test_responses_carry_the_offset_and_the_schema_says_date_time(app: FastAPI) -> None:
    @app.get("/events/latest")
    async def latest() -> Event:
        return Event(at=datetime(2024, 5, 1, 12, 30))

    client = TestClient(app)

    assert client.get("/events/latest").json() == {"at": "2024-05-01T12:30:00+00:00"}
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    at = schemas["Event"]["properties"]["at"]
    assert (at["type"], at["format"]) == ("string", "date-time")
