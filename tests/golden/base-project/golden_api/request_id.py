"""Request ids: accept or generate one per request, and expose it to logging."""

import itertools
import os
import re
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"

# Ids from clients or proxies are trusted only if they look like ids: this keeps
# log lines and response headers free of injected text.
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _IdSequence:
    """32 hex digits: a random prefix per process, then a counter.

    Ids only need to be unique, not secret, and a counter costs a tenth of a
    `uuid4()` (which reads the kernel's random source on every request). The
    64-bit random prefix keeps ids of different processes (workers,
    replicas, restarts) apart; a forked child draws a new one.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        """Draw a new prefix and restart the counter (at start-up and after a fork)."""
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        """Return the next id."""
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


_ids = _IdSequence()
os.register_at_fork(after_in_child=_ids.reseed)


def new_request_id() -> str:
    """Return a new request id: 32 lower-case hex digits, unique across processes."""
    return _ids.next()


def request_id_from(incoming: bytes | None) -> str:
    """Return the id to use for a request: the incoming one if well formed, else a new one.

    A well-formed incoming `X-Request-ID` (for example from a load balancer) is
    kept, so one id follows the request across services.
    """
    if incoming is not None and _WELL_FORMED.fullmatch(incoming):
        return incoming.decode("ascii")
    return new_request_id()


def set_request_id(request_id: str) -> None:
    """Make ``request_id`` the id of the request being handled, for logging.

    Not reset afterwards on purpose: the server runs each request in its own
    task (a copy of the context), and the 500 handler, which runs outside the
    middleware, still needs the id to log it and send it back.
    """
    _request_id.set(request_id)


def get_request_id() -> str | None:
    """Return the id of the request being handled, or None outside a request."""
    return _request_id.get()
