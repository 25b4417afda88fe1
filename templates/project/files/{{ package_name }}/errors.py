"""Error responses as RFC 9457 problem details (`application/problem+json`).

Every error the API returns has the same shape, whether it comes from an
`HTTPException`, a request that fails validation or a bug:

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "...", "instance": "/items/42"}
"""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .request_id import REQUEST_ID_HEADER, get_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    """A JSON response with the problem details media type."""

    media_type = PROBLEM_MEDIA_TYPE


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
        "detail": detail,
        "instance": instance,
        **extensions,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


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
    if not _body_allowed(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    # RFC 9457's `detail` is a string; structured details go in an extension.
    if isinstance(exc.detail, str):
        return problem_response(
            exc.status_code, detail=exc.detail, instance=request.url.path, headers=exc.headers
        )
    return problem_response(
        exc.status_code,
        detail=_status_phrase(exc.status_code),
        instance=request.url.path,
        headers=exc.headers,
        errors=jsonable_encoder(exc.detail),
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Answer a request that fails validation with 422 and the list of errors."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    # Errors raised by custom validators carry the exception object in `ctx`;
    # str() makes it (and anything else unusual) JSON-serialisable.
    errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
    return problem_response(
        422,
        detail="The request is not valid; see `errors`.",
        instance=request.url.path,
        errors=errors,
    )


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    """Log an unhandled exception with its traceback and answer 500 without details.

    The client gets the request id, which finds the traceback in the logs; the
    exception's message is never sent, as it may contain internal data.
    """
    logger.error(
        "Unhandled exception during %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
    )
    request_id = get_request_id()
    return problem_response(
        500,
        detail="An unexpected error occurred.",
        instance=request.url.path,
        # This handler runs outside the request-id middleware, so echo the id here.
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # A status code the standard library does not know.
        return "Error"


def _body_allowed(status: int) -> bool:
    # 1xx, 204 No Content and 304 Not Modified must not have a body.
    return status >= 200 and status not in {204, 304}
