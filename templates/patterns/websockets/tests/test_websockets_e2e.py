"""The websockets pattern against a real uvicorn, real clients and a real redis-server.

- one worker, many clients and one that never reads: the others get every message
  promptly, the stalled one is disconnected, memory stays bounded;
- two workers on Redis: clients on both workers get every message, presence counts
  both, and delivery resumes after Redis restarts;
- shutdown closes sockets with 1001; invalid room ids and foreign origins (another
  scheme too) are refused before the handshake;
- one client address holds at most WS_MAX_CONNECTIONS_PER_CLIENT sockets (default 50),
  refused with HTTP 429 problem details, while other addresses still get in.

"Promptly" means generous timeouts that a broadcast stalled behind one client would
blow (it waits for the stalled socket's keepalive timeout, tens of seconds, per message).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin
from websockets_e2e_support import (
    MIB,
    SERVER_ENV,
    Client,
    clients_on_both_workers,
    presence,
    wait_until,
)

from fastscaffold.creation import NewOptions, new_project
from tests.services import RedisServer, serve_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ws_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("ws-e2e")
    options = NewOptions(name="ws-e2e", parent=parent, patterns=("websockets",))
    return new_project(options).destination


def open_stalled_client(port: int, path: str) -> socket.socket:
    """Complete a WebSocket handshake with a tiny receive buffer, then never read again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while not response.endswith(b"\r\n\r\n") and len(response) < 4096:
        chunk = sock.recv(1)  # byte by byte: read nothing past the headers
        if not chunk:
            break
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def test_a_stalled_client_neither_delays_the_room_nor_grows_memory(ws_project: Path) -> None:
    healthy, count, size, window = 12, 2000, 16 * 1024, 100
    # A 256-frame queue: the stalled client is dropped well before the stream ends.
    env = {**SERVER_ENV, "WS_QUEUE_SIZE": "256"}
    with serve_app(ws_project, env=env) as served:

        async def scenario() -> tuple[int, int]:
            url = f"{served.ws_url}/ws/stalled"
            clients = [await Client.open(url) for _ in range(healthy)]
            stalled = open_stalled_client(served.port, "/ws/stalled")
            try:
                await wait_until(
                    lambda: len(clients[0].joined()) == healthy + 1,
                    20,
                    "the stalled client's join",
                )
                baseline = served.peak_rss_bytes()
                sender = clients[0]
                texts = [f"{i:06d}".ljust(size, "x") for i in range(count)]
                # In windows of 100 messages, as fast as the healthy clients read: a
                # broadcast stuck behind the stalled client would stop at the first window.
                deadline = time.monotonic() + 45

                def received(end: int) -> Callable[[], bool]:
                    return lambda: all(len(c.messages()) >= end for c in clients)

                for start in range(0, count, window):
                    for text in texts[start : start + window]:
                        await sender.ws.send(text)
                    await wait_until(
                        received(start + window),
                        max(deadline - time.monotonic(), 0.1),
                        "every healthy client to receive every message",
                    )
                for client in clients:
                    assert client.messages() == texts
                    assert client.closed_with is None
                # The server gave up on the stalled client: it left the room.
                assert presence(served, "stalled")["count"] == healthy
                await wait_until(
                    lambda: len(clients[0].left()) == 1, 20, "the stalled client's leave"
                )
                return baseline, served.peak_rss_bytes()
            finally:
                stalled.close()
                for client in clients:
                    await client.close()

        baseline, peak = asyncio.run(scenario())
    # Buffering everything for the stalled client would take count * size = 31 MiB more.
    assert peak - baseline < 24 * MIB, f"peak RSS grew by {(peak - baseline) / MIB:.1f} MiB"


def test_two_workers_share_rooms_through_redis_and_survive_a_restart(
    ws_project: Path, redis_server: RedisServer
) -> None:
    env = {**SERVER_ENV, "REDIS_URL": redis_server.url}
    with serve_app(ws_project, env=env, workers=2) as served:

        async def scenario() -> None:
            url = f"{served.ws_url}/ws/multi"
            by_worker, clients = await clients_on_both_workers(served, url, per_worker=2)
            try:
                first, second = (group[0] for group in by_worker.values())

                # Clients on both workers get every message, from either worker, all in
                # the same order (each sender's in the order sent), numbered without gaps.
                texts = [f"before-{i:02d}" for i in range(50)]
                for i, text in enumerate(texts):
                    await (first if i % 2 else second).ws.send(text)
                await wait_until(
                    lambda: all(len(c.messages("before-")) == len(texts) for c in clients),
                    30,
                    "every client on both workers to receive every message",
                )
                order = clients[0].messages("before-")
                assert sorted(order) == texts
                assert [t for t in order if int(t[-2:]) % 2] == texts[1::2]
                for client in clients:
                    assert client.messages("before-") == order
                    seqs = [frame["seq"] for frame in client.numbered()]
                    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
                members = presence(served, "multi")
                assert members["count"] == len(clients)
                assert sorted(members["members"]) == sorted(c.sender for c in clients)

                # Redis goes away and comes back empty: delivery must resume on its own.
                redis_server.restart(down_for=1.0)
                probe = 0
                deadline = time.monotonic() + 45
                while not all(c.messages("probe-") for c in clients):
                    assert time.monotonic() < deadline, "delivery did not resume after restart"
                    await first.ws.send(f"probe-{probe}")
                    probe += 1
                    await asyncio.sleep(0.3)
                after = [f"after-{i}" for i in range(30)]
                for text in after:
                    await second.ws.send(text)
                await wait_until(
                    lambda: all(c.messages("after-") == after for c in clients),
                    30,
                    "every client to receive every message after the restart",
                )
                # Presence is rebuilt in the restarted Redis too.
                await wait_until(
                    lambda: presence(served, "multi")["count"] == len(clients),
                    30,
                    "presence to be rebuilt after the restart",
                )
            finally:
                for client in clients:
                    await client.close()

        asyncio.run(scenario())


def test_shutdown_closes_with_1001_and_bad_room_ids_are_refused(ws_project: Path) -> None:
    with serve_app(ws_project, env=SERVER_ENV) as served:

        async def scenario() -> int | None:
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{served.ws_url}/ws/not.a.room", open_timeout=20)
            assert refused.value.response.status_code == 403
            # The server's own host and port, but https: another origin.
            host = f"127.0.0.1:{served.port}"
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{served.ws_url}/ws/bye", origin=Origin(f"https://{host}"))
            assert refused.value.response.status_code == 403
            client = await Client.open(f"{served.ws_url}/ws/bye")
            os.killpg(served.process.pid, signal.SIGTERM)
            await wait_until(lambda: client.ws.state.name == "CLOSED", 20, "the server to close")
            await client.close()
            return client.closed_with

        assert asyncio.run(scenario()) == 1001


def test_one_address_holds_at_most_its_cap_of_sockets(ws_project: Path) -> None:
    # The default cap (50), not SERVER_ENV's: 60 sockets from 127.0.0.1 at once.
    env = {**SERVER_ENV}
    del env["WS_MAX_CONNECTIONS_PER_CLIENT"]
    attempts, cap = 60, 50
    with serve_app(ws_project, env=env) as served:
        url = f"{served.ws_url}/ws/capped"

        async def attempt(source: str = "127.0.0.1") -> Client | InvalidStatus:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source, 0))
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.port))
            try:
                return await Client.open(url, sock=sock)
            except InvalidStatus as refused:
                return refused

        async def scenario() -> None:
            outcomes = await asyncio.gather(*(attempt() for _ in range(attempts)))
            admitted = [o for o in outcomes if isinstance(o, Client)]
            try:
                refusals = [o.response for o in outcomes if isinstance(o, InvalidStatus)]
                assert (len(admitted), len(refusals)) == (cap, attempts - cap)
                for response in refusals:
                    assert response.status_code == 429
                    assert response.headers["content-type"] == "application/problem+json"
                    problem = json.loads(response.body)
                    assert problem["status"] == 429
                    assert problem["detail"].startswith("too many connections from your address")
                # Another address (all of 127.0.0.0/8 is loopback) is not affected.
                other = await attempt("127.0.0.2")
                assert isinstance(other, Client), other
                admitted.append(other)
                assert presence(served, "capped")["count"] == cap + 1
                # A socket closed gives its place back.
                await admitted.pop(0).close()
                await wait_until(
                    lambda: presence(served, "capped")["count"] == cap, 20, "the leave"
                )
                again = await attempt()
                assert isinstance(again, Client), again
                admitted.append(again)
            finally:
                for client in admitted:
                    await client.close()

        asyncio.run(scenario())
