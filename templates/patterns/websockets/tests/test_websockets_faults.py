"""The websockets pattern under faults: real redis-server, two real uvicorn workers.

- Redis stops for a few seconds under traffic from senders on both workers, then
  comes back empty: every message reaches every client or gets an `error` frame
  back to its sender, except one Redis took just before it stopped and forgot
  before every worker read it (which clients see from `prev`); `seq` never
  decreases for any client, and the one break in each client's `prev` chain
  (Redis forgot the room) is visible in the frames;
- one worker is killed with SIGKILL: its members leave the presence listing
  within WS_PRESENCE_TTL_SECONDS and the clients on the other worker get their
  `leave` frames within a third of that more;
- twelve clients connect at once to a room limited to four, over both workers:
  exactly four get in.

Bounds come from the settings the tests set, plus generous margins for a loaded
CI machine; nothing asserts how fast things are.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets_e2e_support import (
    SERVER_ENV,
    Client,
    clients_on_both_workers,
    presence,
    sockets_on_both_workers,
    wait_until,
    worker_of,
)

from fastscaffold.creation import NewOptions, new_project
from tests.services import RedisServer, serve_app

pytestmark = pytest.mark.e2e

NOT_DELIVERED = "message not delivered: try again"
# Added to every bound a setting defines: a loaded CI machine is slow, not wrong.
MARGIN = 10.0
# Longest a worker may take to read a frame Redis took (its reader waits in XREAD).
READ_LAG = 1.0


@pytest.fixture(scope="module")
def ws_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("ws-faults")
    options = NewOptions(name="ws-faults", parent=parent, patterns=("websockets",))
    return new_project(options).destination


def chain_breaks(client: Client) -> list[dict[str, Any]]:
    """Return the frames whose `prev` is not the `seq` of the frame the client got before.

    This is how a client tells it may have missed frames.
    """
    breaks = []
    last: int | None = None
    for frame in client.numbered():
        if last is not None and frame["prev"] != last:
            breaks.append(frame)
        last = frame["seq"]
    return breaks


@dataclass
class OutageClock:
    """When the test stopped Redis and started it again (``time.monotonic()``)."""

    stopping: float = math.inf
    stopped: float = math.inf
    started: float = math.inf

    def could_lose(self, sent_at: float) -> bool:
        """Whether Redis may have taken a message sent then, and lost it in the restart.

        Each worker reads a frame within moments of Redis taking it; READ_LAG allows
        for a loaded machine.
        """
        return self.stopping - READ_LAG <= sent_at <= self.stopped

    def could_refuse(self, sent_at: float) -> bool:
        """Whether a message sent then may be refused (or lost) rather than delivered."""
        return self.stopping - READ_LAG <= sent_at <= self.started

    def since(self, moment: float) -> str:
        return f"{moment - self.stopping:+.3f} s from the stop"


def test_a_redis_outage_under_traffic_loses_no_message_silently(
    ws_project: Path, redis_server: RedisServer
) -> None:
    # A message waits up to 1 s for Redis, so a 3 s outage both delays messages
    # (delivered once Redis is back) and refuses some (an error frame each).
    env = {**SERVER_ENV, "REDIS_URL": redis_server.url, "WS_PUBLISH_TIMEOUT": "1"}
    per_sender, interval, outage = 60, 0.1, 3.0
    with serve_app(ws_project, env=env, workers=2) as served:

        async def scenario() -> dict[str, int]:
            url = f"{served.ws_url}/ws/outage"
            by_worker, opened = await clients_on_both_workers(served, url, per_worker=3)
            try:
                # Every client is in the room from here to the end: each must get everything.
                clients = opened
                await wait_until(
                    # Each client sees its own join and those of the clients opened after it.
                    lambda: all(
                        {o.sender for o in clients[i:]} <= set(c.joined())
                        for i, c in enumerate(clients)
                    ),
                    20,
                    "every join",
                )
                senders = [group[i] for group in by_worker.values() for i in range(3)]
                sent: dict[str, list[str]] = {s.sender: [] for s in senders}
                sent_at: dict[str, float] = {}
                cut = OutageClock()

                async def send(client: Client, index: int) -> None:
                    for n in range(per_sender):
                        text = f"m{index}-{n:03d}"
                        sent_at[text] = time.monotonic()
                        await client.ws.send(text)
                        sent[client.sender].append(text)
                        await asyncio.sleep(interval)

                async def cut_redis() -> None:
                    await asyncio.sleep(1.0)
                    cut.stopping = time.monotonic()
                    await asyncio.to_thread(redis_server.stop)
                    cut.stopped = time.monotonic()
                    await asyncio.sleep(outage)
                    await asyncio.to_thread(redis_server.start)  # empty: no persistence
                    cut.started = time.monotonic()

                await asyncio.gather(
                    cut_redis(), *(send(client, i) for i, client in enumerate(senders))
                )

                def missing(index: int) -> list[str]:
                    """Return sender ``index``'s messages that some client did not get."""
                    everywhere = set.intersection(
                        *(set(client.messages(f"m{index}-")) for client in clients)
                    )
                    return [t for t in sent[senders[index].sender] if t not in everywhere]

                def accounted() -> bool:
                    # Every message reached every client, or was refused to its sender, or
                    # was lost by Redis: taken just before it stopped, and restarted empty
                    # before every worker read it (documented, and seen from `prev`).
                    for index, sender in enumerate(senders):
                        absent = missing(index)
                        if not all(cut.could_refuse(sent_at[t]) for t in absent):
                            return False
                        lost = len(absent) - sender.errors().count(NOT_DELIVERED)
                        if not 0 <= lost <= sum(cut.could_lose(sent_at[t]) for t in absent):
                            return False
                    return True

                def unaccounted() -> str:
                    return "; ".join(
                        f"sender {index}: refused {sender.errors().count(NOT_DELIVERED)}, "
                        + ", ".join(f"{t} (sent {cut.since(sent_at[t])})" for t in missing(index))
                        for index, sender in enumerate(senders)
                    )

                await wait_until(
                    accounted, 30 + MARGIN, "every message to be accounted for", unaccounted
                )
                await asyncio.sleep(1.0)  # frames that would arrive late must not exist either
                assert accounted(), unaccounted()

                delivered = refused = 0
                for index, sender in enumerate(senders):
                    prefix = f"m{index}-"
                    got = [client.messages(prefix) for client in clients]
                    for texts in got:
                        # Each sender's messages arrive in the order sent, none twice...
                        assert texts == [t for t in sent[sender.sender] if t in set(texts)]
                    # ...all or nothing: only a message Redis lost reached some clients only...
                    everywhere = set(got[0]).intersection(*got[1:])
                    some = set(got[0]).union(*got[1:]) - everywhere
                    assert all(cut.could_lose(sent_at[t]) for t in some), (some, cut)
                    delivered += len(everywhere)
                    refused += sender.errors().count(NOT_DELIVERED)
                    # ...and only messages were refused (joins and leaves are not).
                    assert set(sender.errors()) <= {NOT_DELIVERED}
                for client in clients:
                    seqs = [frame["seq"] for frame in client.numbered()]
                    assert seqs == sorted(set(seqs)), "seq went backwards or repeated"
                    # Redis came back empty: the one break in the chain says so (prev null);
                    # any other missed frame would show as a break too, and there is none.
                    breaks = chain_breaks(client)
                    assert [frame["prev"] for frame in breaks] == [None], breaks
                assert delivered > 0
                return {
                    "clients": len(clients),
                    "sent": sum(map(len, sent.values())),
                    "delivered": delivered,
                    "refused": refused,
                    "lost in the restart": sum(map(len, sent.values())) - delivered - refused,
                }
            finally:
                for client in opened:
                    await client.close()

        figures = asyncio.run(scenario())
    print(f"\nRedis outage of {outage} s under traffic: {figures}")


def test_a_killed_workers_members_expire_and_their_leave_is_announced(
    ws_project: Path, redis_server: RedisServer
) -> None:
    ttl = 2.0
    env = {**SERVER_ENV, "REDIS_URL": redis_server.url, "WS_PRESENCE_TTL_SECONDS": str(ttl)}
    with serve_app(ws_project, env=env, workers=2) as served:

        async def scenario() -> float:
            url = f"{served.ws_url}/ws/crash"
            by_worker, opened = await clients_on_both_workers(served, url, per_worker=2)
            try:
                (victim, doomed), (_, kept) = by_worker.items()
                everyone = {c.sender for c in opened}
                assert set(presence(served, "crash")["members"]) == everyone

                os.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
                gone = {c.sender for c in doomed}
                # Documented: out of the listing within WS_PRESENCE_TTL_SECONDS...
                await wait_until(
                    lambda: set(presence(served, "crash")["members"]) == everyone - gone,
                    ttl + MARGIN,
                    "the killed worker's members to leave the listing",
                )
                # ...and their `leave` frames within a third of it more.
                await wait_until(
                    lambda: all(gone <= set(c.left()) for c in kept),
                    ttl * 4 / 3 + MARGIN,
                    "the survivors to get a leave frame for each member of the killed worker",
                )
                took = time.monotonic() - killed_at
                for client in kept:
                    leaves = Counter(client.left())
                    assert leaves == Counter(gone), "each member leaves once, and only those"
                    assert client.closed_with is None
                # The survivors are still present, and the room still works for them.
                await asyncio.sleep(ttl)
                assert set(presence(served, "crash")["members"]) == everyone - gone
                await kept[0].ws.send("still here")
                await wait_until(
                    lambda: all(c.messages("still here") for c in kept), MARGIN, "a message"
                )
                return took
            finally:
                for client in opened:
                    await client.close()

        took = asyncio.run(scenario())
    print(f"\nkill -9 with WS_PRESENCE_TTL_SECONDS={ttl}: leave frames after {took:.1f} s")


def test_the_room_limit_holds_across_workers_under_concurrent_connects(
    ws_project: Path, redis_server: RedisServer
) -> None:
    limit, newcomers, rooms = 4, 12, ("full-a", "full-b")
    env = {
        **SERVER_ENV,
        "REDIS_URL": redis_server.url,
        "WS_MAX_CONNECTIONS_PER_ROOM": str(limit),
    }
    with serve_app(ws_project, env=env, workers=2) as served:

        async def attempt(room: str, sock: socket.socket | None = None) -> Client | int:
            try:
                return await Client.open(f"{served.ws_url}/ws/{room}", sock=sock)
            except InvalidStatus as refused:
                return refused.response.status_code

        async def scenario() -> Counter[int | None]:
            # Half the TCP connections of each room are on each worker before any
            # handshake starts; then all handshakes go at once, so both workers race
            # for every place.
            sockets = await sockets_on_both_workers(served, per_worker=newcomers)
            outcomes = await asyncio.gather(
                *(
                    attempt(room, sockets[i * newcomers + j])
                    for i, room in enumerate(rooms)
                    for j in range(newcomers)
                )
            )
            admitted = [o for o in outcomes if isinstance(o, Client)]
            try:
                for index, room in enumerate(rooms):
                    mine = outcomes[index * newcomers : (index + 1) * newcomers]
                    assert sum(isinstance(o, Client) for o in mine) == limit, mine
                    # Refused before the handshake, with HTTP 503.
                    refusals = [o for o in mine if not isinstance(o, Client)]
                    assert refusals == [503] * (newcomers - limit)
                    assert presence(served, room)["count"] == limit
                workers = Counter(
                    worker_of(c.ws.local_address[1], served.port, served.pids()[1:])
                    for c in admitted
                )
                # A freed place is taken again, by exactly one of three newcomers.
                first = admitted.pop(0)
                await first.close()
                room = str(first.frames[0]["room"])
                await wait_until(
                    lambda: presence(served, room)["count"] == limit - 1, MARGIN, "the leave"
                )
                again = await asyncio.gather(*(attempt(room) for _ in range(3)))
                admitted += [o for o in again if isinstance(o, Client)]
                assert sorted(0 if isinstance(o, Client) else o for o in again) == [0, 503, 503]
                return workers
            finally:
                for client in admitted:
                    await client.close()

        workers = asyncio.run(scenario())
    print(f"\nadmitted connections by worker: {dict(workers)}")
