"""Test doubles for the WebSocket hub: fake sockets and ways to wait for frames."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any


class FakeSocket:
    """Records what is sent; can stall forever or fail like a closed socket."""

    def __init__(self, *, stalled: bool = False, broken: bool = False) -> None:
        self.frames: list[str] = []
        self.close_codes: list[int] = []
        self.stalled = stalled
        self.broken = broken

    async def send(self, message: dict[str, Any]) -> None:
        if self.broken:
            raise RuntimeError('Cannot call "send" once a close message has been sent.')
        if self.stalled:
            await asyncio.Event().wait()  # a client that never reads
        assert message["type"] == "websocket.send"
        self.frames.append(message["text"])

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        del reason
        if self.broken:
            raise RuntimeError("Cannot call close once a close message has been sent.")
        self.close_codes.append(code)

    def decoded(self) -> list[dict[str, Any]]:
        return [json.loads(frame) for frame in self.frames]

    def messages(self) -> list[str]:
        return [frame["data"] for frame in self.decoded() if frame["type"] == "message"]

    def kinds(self) -> list[str]:
        return [frame["type"] for frame in self.decoded()]

    def senders(self, kind: str) -> list[str]:
        return [frame["sender"] for frame in self.decoded() if frame["type"] == kind]

    def numbered(self) -> list[dict[str, Any]]:
        """The frames of the room's sequence (not `welcome` and `error`)."""
        return [frame for frame in self.decoded() if frame["seq"] is not None]

    def joined(self) -> list[str]:
        """Who the `presence` frames said joined, in order."""
        return [m for f in self.decoded() if f["type"] == "presence" for m in f["joined"]]

    def left(self) -> list[str]:
        """Who the `presence` frames said left, in order."""
        return [m for f in self.decoded() if f["type"] == "presence" for m in f["left"]]


async def idle() -> None:
    """A reader for a client that sends nothing."""
    await asyncio.Event().wait()


async def settle(condition: Callable[[], bool], turns: int = 10_000) -> bool:
    """Let the event loop run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(turns):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (Redis answers take time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def chain_breaks(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the frames whose `prev` is not the `seq` of the numbered frame before them."""
    breaks = []
    last: int | None = None
    for frame in frames:
        if frame["seq"] is None:  # `welcome` and `error` frames are outside the sequence
            continue
        if last is not None and frame["prev"] != last:
            breaks.append(frame)
        last = frame["seq"]
    return breaks
