"""How a room's frames reach every worker: what the hub needs, and the in-process default.

- `MemoryBackplane` (default): one process; publishing numbers the frame and
  hands it to the local hub.
- `RedisBackplane` (in `redis_backplane`, when REDIS_URL is set): one Redis
  stream per room, presence and admission shared by every worker.
"""

from typing import TYPE_CHECKING, Protocol

from .frames import clock_seq, numbered, presence_body

if TYPE_CHECKING:
    from .hub import Hub


class BackplaneUnavailableError(Exception):
    """The backplane (Redis) could not be reached."""


class Backplane(Protocol):
    """What the hub needs to reach the other workers."""

    async def start(self) -> None:
        """Start background work (reader, heartbeat)."""

    async def stop(self) -> None:
        """Stop background work."""

    async def admit(self, room: str, sender: str, limit: int) -> bool:
        """Add ``sender`` to ``room``'s presence if the room has fewer than ``limit`` members.

        Raises:
            BackplaneUnavailableError: Redis is unreachable; nobody was added.
        """

    async def release(self, room: str, sender: str) -> None:
        """Remove an admitted ``sender`` that never joined, without announcing it."""

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number ``body`` (a frame without `seq`) and deliver it to the room everywhere.

        ``sender`` and ``number`` (its messages, counted from 1) let the backplane
        recognise a retry of a message it already published.

        Raises:
            BackplaneUnavailableError: Redis is unreachable; the frame was not sent.
        """

    async def leave(self, room: str, sender: str) -> bool:
        """Remove ``sender`` from the room's presence now; return whether to announce its leave.

        False for a sender already gone (or released), so a leave is announced
        once. Never raises: on Redis, a member that cannot be removed expires
        (see WS_PRESENCE_TTL_SECONDS) and is announced by the worker that
        expires it.
        """

    async def announce(self, room: str, joined: list[str], left: list[str]) -> None:
        """Publish one `presence` frame: who joined and who left ``room`` (see `presence`).

        Never raises: on Redis, a frame that cannot be published is logged and dropped.
        """

    async def members(self, room: str) -> list[str]:
        """Return the senders present in ``room``, sorted.

        Raises:
            BackplaneUnavailableError: Redis is unreachable.
        """


class MemoryBackplane:
    """One process only: frames go straight to the local hub, numbered here."""

    def __init__(self, hub: "Hub") -> None:
        self._hub = hub
        self._present: dict[str, set[str]] = {}
        self._last: dict[str, int] = {}  # seq of each occupied room's last frame
        self._highest = 0  # the highest seq handed out, so a re-created room starts above it

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def admit(self, room: str, sender: str, limit: int) -> bool:
        """Add ``sender`` unless the room is full (atomic: nothing awaits in between)."""
        present = self._present.get(room, set())
        if len(present) >= limit:
            return False
        self._present[room] = present
        present.add(sender)
        return True

    async def release(self, room: str, sender: str) -> None:
        """Forget ``sender`` without a frame."""
        self._forget(room, sender)

    async def publish(self, room: str, body: str, *, sender: str = "", number: int = 0) -> None:
        """Number the frame and deliver it to the local members (nothing is ever retried)."""
        del sender, number
        self._hub.deliver(room, self._numbered(room, body))

    async def leave(self, room: str, sender: str) -> bool:
        """Forget ``sender``; return whether it was present."""
        return self._forget(room, sender)

    async def announce(self, room: str, joined: list[str], left: list[str]) -> None:
        """Number the `presence` frame and deliver it to the local members."""
        self._hub.deliver(room, self._numbered(room, presence_body(room, joined, left)))

    async def members(self, room: str) -> list[str]:
        """Return the members of ``room``."""
        return sorted(self._present.get(room, ()))

    def _numbered(self, room: str, body: str) -> str:
        prev = self._last.get(room)
        seq = max(clock_seq(), self._highest + 1) if prev is None else prev + 1
        self._highest = max(self._highest, seq)
        if room in self._present:  # the counters of empty rooms are not kept (bounded memory)
            self._last[room] = seq
        return numbered(seq, prev, body)

    def _forget(self, room: str, sender: str) -> bool:
        present = self._present.get(room)
        if present is None or sender not in present:
            return False
        present.discard(sender)
        if not present:
            del self._present[room]
            self._last.pop(room, None)
        return True
