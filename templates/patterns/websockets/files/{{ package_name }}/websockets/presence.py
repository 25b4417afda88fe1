"""Presence frames: the joins and leaves of each room, collected and announced together.

Announcing every join to every member costs a room of N clients N frames per
join, so N clients joining cost N * (N + 1) / 2 frames: 500,500 for 1,000
clients, enough to keep a worker busy for seconds and to slow every new
handshake down. Instead this worker collects the joins and leaves of each
room for WS_PRESENCE_INTERVAL seconds, then publishes one `presence` frame
per room that lists them (`joined`, `left`). 1,000 clients joining at once
cost a handful of frames each, whatever the room's size; a quiet room costs
nothing. The price: presence is up to WS_PRESENCE_INTERVAL late, and a
member's first messages may arrive before the `presence` frame that lists it.
"""

import asyncio
from collections.abc import Awaitable, Callable

# Publishes one room's presence frame; must not raise (see Backplane.announce).
Announce = Callable[[str, list[str], list[str]], Awaitable[None]]


class PresenceBatcher:
    """Collects the joins and leaves of each room; announces them every ``interval`` seconds.

    Args:
        interval: Seconds changes are collected before they are announced (0:
            announced at the event loop's next turn, still one frame for all the
            changes made in the same turn).
        announce: Publishes a room's `presence` frame (``room, joined, left``).
    """

    def __init__(self, interval: float, announce: Announce) -> None:
        self._interval = interval
        self._announce = announce
        # room -> (joined, left), dicts used as ordered sets.
        self._pending: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def joined(self, room: str, member: str) -> None:
        """Record that ``member`` joined ``room`` (announced with the next batch)."""
        self._changes(room)[0][member] = None

    def left(self, room: str, member: str) -> None:
        """Record that ``member`` left ``room`` (announced with the next batch)."""
        # A member that joins and leaves within one batch is listed in both: it may
        # have sent messages meanwhile, and clients apply `joined` before `left`.
        self._changes(room)[1][member] = None

    def _changes(self, room: str) -> tuple[dict[str, None], dict[str, None]]:
        changes = self._pending.get(room)
        if changes is None:
            changes = self._pending[room] = ({}, {})
        if self._task is None:  # a task only while there is something to announce
            self._task = asyncio.create_task(self._run(), name="ws-presence")
        return changes

    async def _run(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self._interval)
                await self.flush()
        finally:
            self._task = None

    async def flush(self) -> None:
        """Announce every change collected so far, one frame per room."""
        pending, self._pending = self._pending, {}
        for room, (joined, left) in pending.items():
            if joined or left:
                await self._announce(room, list(joined), list(left))

    async def close(self) -> None:
        """Stop the timer and announce what is left (at shutdown)."""
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        await self.flush()
