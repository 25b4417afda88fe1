"""How many sockets one client address, and this worker in all, may hold open.

A socket counts from the start of its handshake (before authentication, so
slow authentications are bounded too) until it is closed. Both caps are per
worker process: each worker's memory and file descriptors are its own, and
with N workers one address holds at most N x WS_MAX_CONNECTIONS_PER_CLIENT.
"""

import ipaddress
from enum import Enum


class Refusal(Enum):
    """Why a newcomer was refused, as the `detail` its client is told."""

    CLIENT_FULL = "too many connections from your address: close some and try again later"
    SERVER_FULL = "the server has too many connections: try again later"


def client_key(host: str | None) -> str:
    """Return the key a client's sockets are counted under, from its address.

    An IPv4 address counts alone; an IPv6 address counts with its /64 network
    (one subscriber usually gets a whole /64, so could otherwise pick a new
    address per socket); an IPv4-mapped IPv6 address counts as its IPv4
    address. Clients without an IP address (a Unix socket: every client of a
    proxy that connects that way) all count as one, under "".
    """
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ConnectionCounter:
    """The sockets of this worker, in all and by client key; never awaits, so checks are atomic.

    Args:
        per_client: Sockets one client key may hold (WS_MAX_CONNECTIONS_PER_CLIENT).
        total: Sockets this worker may hold (WS_MAX_CONNECTIONS).
    """

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._by_client: dict[str, int] = {}
        self._count = 0

    @property
    def count(self) -> int:
        """Return how many sockets are held."""
        return self._count

    @property
    def clients(self) -> int:
        """Return how many client keys hold sockets."""
        return len(self._by_client)

    def held_by(self, key: str) -> int:
        """Return how many sockets ``key`` holds."""
        return self._by_client.get(key, 0)

    def acquire(self, key: str) -> Refusal | None:
        """Count one more socket for ``key``; return why not if a cap is reached.

        Every successful call must be matched by one `release`.
        """
        if self._count >= self.total:
            return Refusal.SERVER_FULL
        held = self._by_client.get(key, 0)
        if held >= self.per_client:
            return Refusal.CLIENT_FULL
        self._by_client[key] = held + 1
        self._count += 1
        return None

    def release(self, key: str) -> None:
        """Count one socket of ``key`` less (keys holding none are forgotten: bounded memory)."""
        held = self._by_client.get(key, 0)
        if held <= 0:
            return
        self._count -= 1
        if held == 1:
            del self._by_client[key]
        else:
            self._by_client[key] = held - 1
