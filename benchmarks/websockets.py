"""WebSocket rooms: deliveries per second and peak memory, next to a naive sequential broadcast.

Run: python -m benchmarks.websockets [--full]

A project is generated with the `websockets` pattern and served by uvicorn (one
worker, in-process rooms, rate limit off); the naive reference
(benchmarks/naive_websockets_app.py) is served the same way, in the same run.
In each scenario N clients join one room, a separate client sends M messages as
fast as it can, and the clock stops when every healthy client has received all
M (or at a time cap). Deliveries/s = healthy clients x messages received / time.

- 50 and 200 healthy clients, 1 KiB messages;
- 50 healthy clients plus one stalled client (a raw socket with a 4 KiB receive
  buffer that never reads), 16 KiB messages: the naive broadcast waits on the
  stalled socket; ours queues for it, then disconnects it.

Peak memory is the server's VmHWM, each scenario on a fresh server; memory
growth is how much it rose while the messages were sent. The clients
run in this process on the same cores, so absolute figures are client-bound;
compare the two columns.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Figure, bench_project, machine_details, render_table, scaled
from tests.helpers import free_port
from tests.services import peak_rss_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


@dataclass
class Server:
    """A uvicorn process serving one app on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int

    def peak_rss_mb(self) -> float:
        """Return the server's peak resident memory, in MB."""
        return peak_rss_bytes(self.process.pid) / 1e6


@contextlib.contextmanager
def serve(
    entrypoint: str, cwd: Path, env: Mapping[str, str], python: str = sys.executable
) -> Iterator[Server]:
    """Serve ``entrypoint`` with one uvicorn worker until the block ends.

    Unlike tests.services.serve_uvicorn it kills the server outright: a
    graceful shutdown would wait on the stalled client this benchmark keeps.
    """
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "uvicorn", entrypoint, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{entrypoint} did not start") from None
                time.sleep(0.05)
        yield Server(process, port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def open_stalled_client(port: int, path: str) -> socket.socket:
    """Complete a WebSocket handshake with a tiny receive buffer, then never read again."""
    sock = socket.socket()
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
        chunk = sock.recv(1)
        if not chunk:
            break
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {response!r}")
    return sock


async def _scenario(server: Server, clients: int, messages: int, size: int, stalled: bool,
                    cap: float) -> tuple[float, float]:  # fmt: skip
    """Return deliveries per second to the healthy clients, and the server's memory growth."""
    port = server.port
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://127.0.0.1:{port}/ws/bench"
    received = [0] * clients
    counting = False

    async def receive(index: int, ws: object) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:  # type: ignore[attr-defined]
                if counting:
                    received[index] += 1

    options = {"max_size": 4 * MIB, "compression": None, "open_timeout": 30}
    sockets = [await connect(url, **options) for _ in range(clients)]  # type: ignore[arg-type]
    readers = [asyncio.create_task(receive(i, ws)) for i, ws in enumerate(sockets)]
    sender = await connect(url, **options)  # type: ignore[arg-type]
    drain = asyncio.create_task(receive(-1, sender))  # the sender is not counted
    raw = open_stalled_client(port, "/ws/bench") if stalled else None
    await asyncio.sleep(0.5)  # join notices arrive before counting starts
    payload = "m" * size
    before = server.peak_rss_mb()
    counting = True
    started = time.perf_counter()
    deadline = started + cap

    async def send_all() -> None:
        for _ in range(messages):
            await sender.send(payload)

    sending = asyncio.create_task(send_all())
    while min(received) < messages and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    growth = server.peak_rss_mb() - before
    delivered = sum(min(count, messages) for count in received)
    sending.cancel()
    if raw is not None:
        raw.close()
    for ws in [*sockets, sender]:
        ws.transport.abort()
    for task in [*readers, drain, sending]:
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await task
    return delivered / elapsed, growth


def measure(app: str, quick: bool) -> dict[str, float]:
    """Run every scenario against ``app`` (`ours` or `naive`), each on a fresh server."""
    messages = scaled(200 if quick else 500)
    cap = 8.0 if quick else 60.0
    scenarios = {
        "50 clients": (scaled(50), 1024, False),
        "200 clients": (scaled(200), 1024, False),
        "50 clients + 1 stalled": (scaled(50), 16 * 1024, True),
    }
    results: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        if app == "ours":
            bench = stack.enter_context(bench_project("websockets"))
            entrypoint, cwd, python = bench.entrypoint, bench.root, bench.python
        else:
            entrypoint, cwd = "benchmarks.naive_websockets_app:app", REPO_ROOT
            python = sys.executable
        # Every load client connects from 127.0.0.1: lift the per-address cap.
        env = {"REDIS_URL": "", "WS_RATE_LIMIT": "0", "WS_MAX_CONNECTIONS_PER_CLIENT": "100000",
               "LOG_LEVEL": "WARNING"}  # fmt: skip
        for name, (clients, size, stalled) in scenarios.items():
            with serve(entrypoint, cwd, env, python) as server:
                rate, growth = asyncio.run(_scenario(server, clients, messages, size, stalled, cap))
                results[f"deliveries/s, {name}"] = rate
                results[f"peak memory, {name}"] = server.peak_rss_mb()
                results[f"memory growth while sending, {name}"] = growth
    return results


def run(quick: bool) -> list[Figure]:
    """Measure the generated app and the naive reference; return the figures."""
    ours = measure("ours", quick)
    naive = measure("naive", quick)
    figures = []
    for name in ours:
        memory = "memory" in name
        figures.append(
            Figure(
                name=name,
                ours=ours[name],
                reference=naive[name],
                unit="MB" if memory else "msg/s",
                higher_is_better=not memory,
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="500 messages per scenario, 60 s cap (default: quick)"
    )
    args = parser.parse_args(argv)
    quick = not args.full
    started = time.perf_counter()
    figures = run(quick=quick)
    title = "WebSocket rooms" + (" (quick: 200 messages, 8 s cap)" if quick else "")
    sys.stdout.write(render_table(title, figures))
    sys.stdout.write(f"\n{machine_details(('fastapi', 'starlette', 'uvicorn', 'websockets'))}\n")
    sys.stdout.write(f"Took {time.perf_counter() - started:.0f} s.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
