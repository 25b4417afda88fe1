"""Acknowledging stream messages in batches: one XACK for every confirmation waiting.

A worker confirms a message once its task is claimed (see broker.py), and
claims come back from the database in groups (one commit serves several).
One XACK per message would cost the event loop a round trip each; here the
confirmations that arrive while an XACK is on its way leave together in the
next one. Each caller still returns only once Redis has its confirmation,
or gets the error that XACK raised.
"""

import asyncio
from dataclasses import dataclass, field

from redis.asyncio import Redis


@dataclass
class _Batch:
    ids: list[bytes] = field(default_factory=list)
    sent: "asyncio.Future[None]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Acknowledgements:
    """Confirms entries of one stream's consumer group, in batches."""

    def __init__(self, redis: Redis, stream: str, group: str) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._next: _Batch | None = None
        self._sender: asyncio.Task[None] | None = None

    async def confirm(self, entry_id: bytes) -> None:
        """Acknowledge ``entry_id``; return once Redis has it.

        Raises:
            RedisError: What the XACK carrying it raised (also OSError).
        """
        if self._next is None:
            self._next = _Batch()
        batch = self._next
        batch.ids.append(entry_id)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send())
        # Shielded: a caller cancelled while it waits must not cancel the
        # batch the others wait for too.
        await asyncio.shield(batch.sent)

    async def _send(self) -> None:
        while self._next is not None:
            batch, self._next = self._next, None
            try:
                await self._redis.xack(self._stream, self._group, *batch.ids)
            except asyncio.CancelledError:
                # The loop is closing: nobody is left to send for the waiting.
                batch.sent.cancel()
                if self._next is not None:
                    self._next.sent.cancel()
                    self._next = None
                raise
            except Exception as exc:
                batch.sent.set_exception(exc)
                # Retrieved here too: every caller may have been cancelled.
                batch.sent.exception()
            else:
                batch.sent.set_result(None)
