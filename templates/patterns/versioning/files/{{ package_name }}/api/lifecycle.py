"""Versions and their lifecycle: loading versions.toml, headers, and 410 after retirement."""

import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


class VersionPolicy(BaseModel):
    """The lifecycle of one version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["active", "deprecated", "retired"] = "active"
    released: bool = False
    deprecated_at: date | None = None
    sunset_at: date | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _check_dates(self) -> "VersionPolicy":
        if self.status == "deprecated" and self.deprecated_at is None:
            raise ValueError("a deprecated version needs deprecated_at")
        if self.deprecated_at and self.sunset_at and self.sunset_at < self.deprecated_at:
            raise ValueError("sunset_at cannot be earlier than deprecated_at")
        return self

    def is_retired(self, today: date) -> bool:
        """Return whether the version is gone: retired, or past its sunset date."""
        return self.status == "retired" or (self.sunset_at is not None and today >= self.sunset_at)


class ApiVersions(BaseModel):
    """Every version, in order, and the latest one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latest: str
    versions: dict[str, VersionPolicy] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_names(self) -> "ApiVersions":
        names = list(self.versions)
        invalid = [n for n in names if n[:1] != "v" or not n[1:].isdigit() or n[1:2] == "0"]
        if invalid:
            raise ValueError(f"version names look like v1, v2, ...: not {invalid}")
        if self.latest not in self.versions:
            raise ValueError(f"latest = {self.latest!r} is not among the versions")
        return self

    def ordered(self) -> list[str]:
        """Return the version names, oldest first."""
        return sorted(self.versions, key=lambda name: int(name[1:]))

    def successor(self, name: str, on: date) -> str | None:
        """Return the version clients of ``name`` should move to, or None if there is none.

        The nearest newer version that is active on ``on``; failing that, the
        nearest newer one still served (deprecated, before its sunset). A
        retired version is never named: a 410 must not point at another 410.
        """
        names = self.ordered()
        newer = [n for n in names[names.index(name) + 1 :] if not self.versions[n].is_retired(on)]
        active = [n for n in newer if self.versions[n].status == "active"]
        candidates = active or newer
        return candidates[0] if candidates else None


def load_versions(path: Path = VERSIONS_FILE) -> ApiVersions:
    """Read and validate versions.toml."""
    with path.open("rb") as handle:
        return ApiVersions.model_validate(tomllib.load(handle))


@cache
def configured_versions() -> ApiVersions:
    """Return versions.toml as read once, at start-up: not on every request."""
    return load_versions()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def lifecycle_header_names(policy: VersionPolicy) -> list[str]:
    """Return the names of the headers ``lifecycle_headers`` sends for ``policy``."""
    return list(lifecycle_headers(policy))


def lifecycle_headers(policy: VersionPolicy) -> dict[str, str]:
    """Return the Deprecation, Sunset and Link headers of a deprecated version."""
    headers: dict[str, str] = {}
    if policy.deprecated_at is not None:
        # RFC 9745: a Structured Field Date, seconds since the epoch.
        headers["Deprecation"] = f"@{int(_midnight(policy.deprecated_at).timestamp())}"
    if policy.sunset_at is not None:
        # RFC 8594: an HTTP-date.
        headers["Sunset"] = format_datetime(_midnight(policy.sunset_at), usegmt=True)
    if policy.link:
        relations = ["deprecation", *(["sunset"] if policy.sunset_at else [])]
        headers["Link"] = ", ".join(f'<{policy.link}>; rel="{rel}"' for rel in relations)
    return headers


def today() -> date:
    """Return today's date in UTC (tests replace it through ``app.state.api_today``)."""
    return datetime.now(UTC).date()


def current_versions(request: Request) -> ApiVersions:
    """Return the versions in force: versions.toml, or ``app.state.api_versions`` in tests."""
    versions: ApiVersions | None = getattr(request.app.state, "api_versions", None)
    return versions or configured_versions()


def current_day(request: Request) -> date:
    """Return today in UTC, or what ``app.state.api_today`` (a test's clock) says."""
    clock: Callable[[], date] = getattr(request.app.state, "api_today", None) or today
    return clock()


def enforce_lifecycle(name: str) -> Callable[[Request, Response], None]:
    """Return the dependency every route of version ``name`` runs first.

    It answers 410 Gone (problem+json, naming the successor) for a retired
    version and adds the deprecation headers to a deprecated one's responses.
    Tests can swap the versions and the clock through ``app.state.api_versions``
    and ``app.state.api_today``.
    """
    configured_versions()  # Read (and validated) at start-up, not on the first request.

    def check(request: Request, response: Response) -> None:
        versions = current_versions(request)
        policy = versions.versions[name]
        headers = lifecycle_headers(policy)
        now = current_day(request)
        if policy.is_retired(now):
            successor = versions.successor(name, now)
            if successor is None:
                detail = f"API {name} has been retired, and no newer version is served."
            else:
                detail = (
                    f"API {name} has been retired; use /api/{successor}/ instead "
                    f"(documented at /api/{successor}/docs)."
                )
                # RFC 5829's relation, for clients that follow links rather than prose.
                links = [headers["Link"]] if "Link" in headers else []
                links.append(f'</api/{successor}/>; rel="successor-version"')
                headers["Link"] = ", ".join(links)
            raise HTTPException(status_code=410, detail=detail, headers=headers)
        response.headers.update(headers)

    return check
