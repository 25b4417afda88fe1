"""Clients and probes shared by the websockets pattern's end-to-end tests.

Not a test module: `test_websockets_e2e.py` and `test_websockets_faults.py` import it
(pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.services import ServedApp

MIB = 1024 * 1024
# Rate limiting is off: one test client sends for the whole room. Every client
# connects from 127.0.0.1, so the per-address cap is raised far above what they open.
SERVER_ENV = {
    "REDIS_URL": "",
    "WS_RATE_LIMIT": "0",
    "WS_MAX_CONNECTIONS_PER_CLIENT": "10000",
    "LOG_LEVEL": "WARNING",
}


class Client:
    """A websockets client that records every frame in the background."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, sock: socket.socket | None = None) -> Client:
        """Connect to ``url`` (over ``sock`` if given) and wait for the client's `welcome`."""
        ws = await connect(url, max_size=2 * MIB, compression=None, open_timeout=20, sock=sock)
        client = cls(ws)
        await wait_until(lambda: client.kinds().count("welcome") >= 1, 20, "own welcome frame")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass
        self.closed_with = self.ws.close_code

    @property
    def sender(self) -> str:
        return str(self.frames[0]["sender"])

    def kinds(self) -> list[str]:
        return [frame["type"] for frame in self.frames]

    def messages(self, prefix: str = "") -> list[str]:
        return [
            frame["data"]
            for frame in self.frames
            if frame["type"] == "message" and frame["data"].startswith(prefix)
        ]

    def errors(self) -> list[str]:
        return [frame["data"] for frame in self.frames if frame["type"] == "error"]

    def numbered(self) -> list[dict[str, Any]]:
        """Return the frames of the room's sequence (all but `welcome` and `error` frames)."""
        return [frame for frame in self.frames if frame["seq"] is not None]

    def joined(self) -> list[str]:
        """Return who the `presence` frames said joined, in order."""
        return [m for f in self.frames if f["type"] == "presence" for m in f["joined"]]

    def left(self) -> list[str]:
        """Return who the `presence` frames said left, in order."""
        return [m for f in self.frames if f["type"] == "presence" for m in f["left"]]

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    describe: Callable[[], str] | None = None,
) -> None:
    """Poll ``condition`` (bounded by ``timeout`` seconds); fail with ``what`` if it never holds.

    ``describe``, if given, says what was found instead, in the failure message.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            found = f"; found: {describe()}" if describe is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{found}")
        await asyncio.sleep(0.02)


def presence(served: ServedApp, room: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{served.url}/ws/rooms/{room}", timeout=10) as answer:
        found: dict[str, Any] = json.loads(answer.read())
    return found


def worker_of(client_port: int, server_port: int, workers: list[int]) -> int | None:
    """Return the pid of the worker holding the server side of a connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        ours, theirs = (int(address.split(":")[1], 16) for address in fields[1:3])
        if ours == server_port and theirs == client_port:
            inode = fields[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if str(fd.readlink()) == target:
                        return pid
    return None


async def clients_on_both_workers(
    served: ServedApp, url: str, per_worker: int, attempts: int = 60
) -> tuple[dict[int, list[Client]], list[Client]]:
    """Open clients until each of the two workers holds ``per_worker`` of them.

    Returns them by worker pid, and every client opened (close them all).
    """
    by_worker: dict[int, list[Client]] = {}
    opened: list[Client] = []
    workers = served.pids()[1:]
    for _ in range(attempts):  # the kernel spreads connections over both workers
        client = await Client.open(url)
        opened.append(client)
        pid = worker_of(client.ws.local_address[1], served.port, workers)
        if pid is not None:
            by_worker.setdefault(pid, []).append(client)
        if len(by_worker) == 2 and min(map(len, by_worker.values())) >= per_worker:
            break
    assert len(by_worker) == 2, f"all clients landed on one worker: {by_worker}"
    assert min(map(len, by_worker.values())) >= per_worker, "too few clients on one worker"
    return by_worker, opened


async def sockets_on_both_workers(
    served: ServedApp, per_worker: int, attempts: int = 200
) -> list[socket.socket]:
    """Open TCP connections (no handshake yet) until two workers have accepted ``per_worker``.

    Returns them alternating between the two workers; the extra ones are closed.
    """
    workers = served.pids()[1:]  # the workers, and maybe a helper process of the supervisor
    by_worker: dict[int, list[socket.socket]] = {}
    extra: list[socket.socket] = []

    def done() -> bool:
        return sum(len(found) >= per_worker for found in by_worker.values()) >= 2

    for _ in range(attempts):
        if done():
            break
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.setblocking(False)
        pid = None
        for _ in range(100):  # the worker accepts it within a few event-loop turns
            pid = worker_of(sock.getsockname()[1], served.port, workers)
            if pid is not None:
                break
            await asyncio.sleep(0.01)
        found = by_worker.setdefault(pid, []) if pid is not None else extra
        (found if len(found) < per_worker else extra).append(sock)
    for sock in extra:
        sock.close()
    assert done(), f"connections by worker: { {pid: len(f) for pid, f in by_worker.items()} }"
    first, second = (found for found in by_worker.values() if len(found) >= per_worker)
    return [sock for pair in zip(first, second, strict=True) for sock in pair]
