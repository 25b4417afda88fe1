"""Keeping slow and stalled uploads from tying up the server: timeouts, a rate, a cap.

An upload holds a task, a temporary file and up to a batch of memory until its
last byte arrives. `PacedBody` refuses a body with 408 when no bytes arrived
for `idle_seconds`, or when, after a grace period, its average rate falls below
`min_bytes_per_second`; `UploadSlots` caps the uploads in progress in this
process and refuses the next ones with 503 before reading any of their bodies.
"""

import math
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import anyio

from .policy import UnacceptableFile

RETRY_AFTER_SECONDS = 5
"""What a 503 for too many uploads tells the client to wait before trying again."""


class PacedBody:
    """A request body that raises `UnacceptableFile` (408) when it stalls or crawls.

    Iterate over it instead of the body. The clock starts when it is made.
    """

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        idle_seconds: float,
        min_bytes_per_second: int,
        grace_seconds: float,
    ) -> None:
        self._body = body
        self.idle_seconds = idle_seconds
        self.min_bytes_per_second = min_bytes_per_second
        self.grace_seconds = grace_seconds
        self.received = 0
        self._started = anyio.current_time()

    def __aiter__(self) -> "PacedBody":
        """Return the body itself: it is its own iterator."""
        return self

    async def __anext__(self) -> bytes:
        """Return the next chunk, waiting no longer than the idle timeout and the rate allow."""
        now = anyio.current_time()
        idle_deadline = now + self.idle_seconds
        rate_deadline = self._rate_deadline()
        # The scope opens and closes within this call: never across a yield.
        with anyio.CancelScope(deadline=min(idle_deadline, rate_deadline)) as scope:
            chunk = await self._body.__anext__()
        if scope.cancelled_caught:
            if rate_deadline < idle_deadline:
                raise UnacceptableFile(
                    408,
                    f"The upload arrived slower than {self.min_bytes_per_second} bytes per "
                    "second on average: it timed out.",
                    headers={"Connection": "close"},
                )
            raise UnacceptableFile(
                408,
                f"No bytes of the upload arrived for {self.idle_seconds:g} seconds: it timed out.",
                headers={"Connection": "close"},
            )
        self.received += len(chunk)
        return chunk

    def _rate_deadline(self) -> float:
        # The average rate drops below the minimum at this moment, unless more arrives.
        if self.min_bytes_per_second <= 0:
            return math.inf
        allowed = max(self.grace_seconds, self.received / self.min_bytes_per_second)
        return self._started + allowed


class UploadSlots:
    """At most `limit` uploads at a time (in this process: each worker has its own)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the block; raise `UnacceptableFile` (503) when there is none."""
        if self.active >= self.limit:
            raise UnacceptableFile(
                503,
                f"The server is receiving {self.limit} uploads already: try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
