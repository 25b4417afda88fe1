"""Error responses as RFC 9457 problem details (`application/problem+json`).

Every error the API returns has the same shape, whether it comes from an
`HTTPException`, a request that fails validation or a bug:

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "...", "instance": "/items/42"}

This module also documents that shape: `problem_responses` for a route's own
statuses and `document_problems` for the whole OpenAPI document.
"""

import copy
import json
import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .headers import SECURITY_HEADERS
from .logs import mark_logged
from .request_id import REQUEST_ID_HEADER, get_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Echoes of client input are cut to these lengths, so that an error response is
# never much larger than a fixed size, whatever the request was.
DETAIL_LIMIT = 1000
INSTANCE_LIMIT = 200
MAX_VALIDATION_ERRORS = 50
INPUT_ECHO_LIMIT = 200


class Problem(BaseModel):
    """The body of every error response: RFC 9457 problem details.

    Extension members (such as `errors`) may follow the standard ones.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="URI identifying the problem type.")
    title: str = Field(description="Short summary: the HTTP status phrase.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="Explanation of this occurrence.")
    instance: str = Field(description="Path of the request that failed.")


class ValidationErrorDetail(BaseModel):
    """One reason a request failed validation, as pydantic reports it."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description="Where the error is, e.g. ['body', 'name'].")
    msg: str = Field(description="Human-readable message.")
    type: str = Field(description="Machine-readable error type, e.g. 'missing'.")
    input: Any = Field(default=None, description="The value at fault; left out when large.")
    ctx: dict[str, Any] = Field(default_factory=dict, description="Values used in `msg`.")


class ValidationProblem(Problem):
    """The body of a 422 response: a problem that lists every validation error."""

    errors: list[ValidationErrorDetail] = Field(
        description=f"The validation errors (at most {MAX_VALIDATION_ERRORS})."
    )


class ProblemResponse(JSONResponse):
    """A JSON response with the problem details media type."""

    media_type = PROBLEM_MEDIA_TYPE


def bounded(text: str, limit: int = 100) -> str:
    """Return `text`, shortened to `limit` characters (ending with "…") if longer.

    Use it for any client input that an error `detail` repeats.
    """
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def problem_response(
    status: int,
    *,
    detail: str,
    instance: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """Build a problem details response.

    Args:
        status: HTTP status code.
        detail: Explanation of this occurrence, safe to show the client.
        instance: URI reference of the occurrence; the request path.
        headers: Extra response headers (e.g. `Allow` or `WWW-Authenticate`).
        **extensions: Extra members of the problem object, e.g. `errors`.

    Returns:
        The response. `type` is "about:blank", so `title` is the status phrase.
    """
    body = {
        "type": "about:blank",
        "title": _status_phrase(status),
        "status": status,
        "detail": bounded(detail, DETAIL_LIMIT),
        "instance": bounded(instance, INSTANCE_LIMIT),
        **extensions,
    }
    # The 500 handler answers outside the middleware that adds these to the others.
    all_headers = {**SECURITY_HEADERS, **(headers or {})}
    return ProblemResponse(body, status_code=status, headers=all_headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Document statuses a route returns as problem details, for `responses=`.

    422 is documented with the validation problem schema, any other status with
    `Problem`. 422 and 500 need not be listed: the app documents them itself.
    """
    return {
        status: {"description": _status_phrase(status), "content": _problem_content(status)}
        for status in statuses
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of an OpenAPI document that describes the errors as served.

    FastAPI documents 422 as `application/json` `{"detail": [...]}`; the app
    answers every error with problem details. This rewrites each 4xx and 5xx
    response to `application/problem+json`, adds 500 to every operation, 413
    to every operation with a body and 400 to those with a JSON body, adds the
    problem schemas to the components and drops FastAPI's unused validation
    schemas. A `head` operation next to a `get` one is dropped: it would
    repeat the operation id.
    """
    document = copy.deepcopy(schema)
    for path_item in document.get("paths", {}).values():
        if "get" in path_item:
            path_item.pop("head", None)
        for method, operation in path_item.items():
            if method in _HTTP_METHODS:
                _document_operation(operation)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(copy.deepcopy(_PROBLEM_SCHEMAS))
    # FastAPI's own 422 schemas, unless something else still refers to them.
    for name in ("HTTPValidationError", "ValidationError"):
        definition = components.pop(name, None)
        if definition is not None and f'"{REF_PREFIX}{name}"' in json.dumps(document):
            components[name] = definition
    return document


def install_exception_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, validation errors and unhandled exceptions with problem details."""
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(Exception, handle_unexpected_error)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Turn an `HTTPException` (including routing's 404 and 405) into a problem."""
    # Handlers are typed for any Exception by Starlette; this one is registered
    # for HTTPException only, so anything else is a bug and must surface.
    if not isinstance(exc, HTTPException):
        raise exc
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path only.
        headers["Allow"] = ", ".join(allowed_methods(request))
    if not _body_allowed(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    # RFC 9457's `detail` is a string; structured details go in an extension.
    if isinstance(exc.detail, str):
        return problem_response(
            exc.status_code, detail=exc.detail, instance=request.url.path, headers=headers
        )
    return problem_response(
        exc.status_code,
        detail=_status_phrase(exc.status_code),
        instance=request.url.path,
        headers=headers,
        errors=_json_safe(exc.detail),
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Answer a request that fails validation with 422 and the list of errors."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    found = exc.errors()
    errors = [_echo_safe(error) for error in found[:MAX_VALIDATION_ERRORS]]
    detail = "The request is not valid; see `errors`."
    if len(found) > MAX_VALIDATION_ERRORS:
        detail = f"The request is not valid; `errors` lists {len(errors)} of {len(found)} errors."
    return problem_response(422, detail=detail, instance=request.url.path, errors=errors)


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    """Log an unhandled exception with its traceback and answer 500 without details.

    The client gets the request id, which finds the traceback in the logs; the
    exception's message is never sent, as it may contain internal data.
    """
    logger.error(
        "Unhandled exception during %s %s",
        request.method,
        bounded(request.url.path, INSTANCE_LIMIT),
        exc_info=exc,
    )
    # Starlette re-raises the exception after this handler, and the server would
    # log it a second time: the server's line is dropped (see logs.py).
    mark_logged(exc)
    request_id = get_request_id()
    return problem_response(
        500,
        detail="An unexpected error occurred.",
        instance=request.url.path,
        # This handler runs outside the request-id middleware, so echo the id here.
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Return every method some route answers at the request's path, sorted."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        match, _ = context.matches(request.scope)
        if match is not Match.NONE and context.methods:
            methods.update(context.methods)
    return sorted(methods)


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

_, _DEFINITIONS = models_json_schema(
    [(Problem, "serialization"), (ValidationProblem, "serialization")],
    ref_template=REF_PREFIX + "{model}",
)
_PROBLEM_SCHEMAS: dict[str, Any] = _DEFINITIONS["$defs"]


def _problem_content(status: int) -> dict[str, Any]:
    model = ValidationProblem if status == 422 else Problem
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF_PREFIX + model.__name__}}}


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "requestBody" in operation:
        responses.setdefault("413", problem_responses(413)[413])
        if "application/json" in operation["requestBody"].get("content", {}):
            # FastAPI answers a JSON body it cannot decode (not UTF-8) with 400.
            responses.setdefault("400", problem_responses(400)[400])
    responses.setdefault("500", problem_responses(500)[500])
    for status, response in responses.items():
        if not status.startswith(("4", "5")):
            continue
        content: dict[str, Any] = response.setdefault("content", {})
        if status == "422":
            # Whatever FastAPI wrote, the validation handler sends this.
            response["content"] = _problem_content(422)
        elif PROBLEM_MEDIA_TYPE not in content and (not content or "application/json" in content):
            declared = content.pop("application/json", {})
            content[PROBLEM_MEDIA_TYPE] = declared if declared.get("schema") else {}
            content[PROBLEM_MEDIA_TYPE].setdefault("schema", {"$ref": REF_PREFIX + "Problem"})


def _echo_safe(error: Mapping[str, Any]) -> dict[str, Any]:
    """Return a validation error that JSON can encode and that echoes little input."""
    safe: dict[str, Any] = _json_safe(
        {key: value for key, value in error.items() if key not in {"url", "input"}}
    )
    value = error.get("input")
    if isinstance(value, str):
        safe["input"] = bounded(value, INPUT_ECHO_LIMIT)
    elif isinstance(value, float):
        safe["input"] = _finite_float(value)
    elif _is_small_json(value):
        safe["input"] = value
    # Otherwise it is left out: a missing field's input is the whole object around
    # it, and a body may nest lists a thousand deep.
    return safe


def _is_small_json(value: Any) -> bool:
    """Tell whether `value` encodes as strict JSON within `INPUT_ECHO_LIMIT` characters.

    The encoding stops as soon as it passes the limit, so a large input costs no
    more than a small one.
    """
    size = 0
    try:
        for chunk in _STRICT_JSON.iterencode(value):
            size += len(chunk)
            if size > INPUT_ECHO_LIMIT:
                return False
    except (TypeError, ValueError, RecursionError):  # Not JSON, NaN, or too deep.
        return False
    return True


_STRICT_JSON = json.JSONEncoder(allow_nan=False)


def _json_safe(value: Any) -> Any:
    """Make `value` encodable as strict JSON, which has no NaN or Infinity.

    The `ctx` of a custom validator's error holds the exception itself: str() it.
    """
    return jsonable_encoder(value, custom_encoder={Exception: str, float: _finite_float})


def _finite_float(value: float) -> float | str:
    # A body with NaN, Infinity or 1e999 (which Python reads as inf) fails
    # validation, and the error repeats the value: send it as a string.
    return value if math.isfinite(value) else str(value)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # A status code the standard library does not know.
        return "Error"


def _body_allowed(status: int) -> bool:
    # 1xx, 204 No Content and 304 Not Modified must not have a body.
    return status >= 200 and status not in {204, 304}
