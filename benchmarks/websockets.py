"""WebSocket rooms: fan-out, idle memory and connect time, next to a raw `websockets` server.

Run: python -m benchmarks.websockets [--full]

A project is generated with the `websockets` pattern and served by uvicorn (one
worker, in-process rooms, rate limit off). The limit reference is a raw
`websockets` server relaying each message with `broadcast()`
(benchmarks/peers/websockets_broadcast.py): no JSON envelope, no presence, no
bounded queues. The load comes from a C epoll client
(benchmarks/peers/websockets_load.c, built with gcc here), whose own CPU time is
reported to show it is not what limits the figures.

- fan-out: N receivers and 10 senders in one room; the senders send M messages
  of 64 bytes round robin, at most WINDOW on their way to the slowest member
  (closed loop). Deliveries/s = messages received by all members / time;
- idle: 1,000 clients connect (64 handshakes at a time) and stay; the time to
  connect them all. Then 1,000 more: the time to connect them next to the
  first, and the server's resident memory growth per connection over those
  (see `idle_memory` for why not over the first).

A third contender shows what the framework itself costs: bare FastAPI
(benchmarks/naive_websockets_app.py: a route on the app, rooms as lists, each
message sent to every member by awaiting one send after the other: no queue,
no task switch, no bound), served by the same uvicorn as the generated app.

Each contender runs once per round on a fresh server, rounds interleaved
(harness.interleave); the ratios are the median over rounds, with their spread.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from benchmarks.harness import (
    Figure,
    bench_project,
    cpu_seconds,
    interleave,
    machine_details,
    render_table,
    scaled,
)
from tests.helpers import free_port

# Programs run besides Python (gcc builds the C load client): checked before a run starts.
NEEDS = ("gcc",)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOAD_SOURCE = REPO_ROOT / "benchmarks" / "peers" / "websockets_load.c"
RAW = "raw websockets broadcast()"
BARE = "bare FastAPI endpoint"
BARE_APP = "benchmarks.naive_websockets_app:app"
SENDERS = 10
SIZE = 64
WINDOW = 64
IDLE_CLIENTS = 1000

# Every load client connects from 127.0.0.1: lift the per-address cap.
OUR_ENV = {
    "REDIS_URL": "",
    "WS_RATE_LIMIT": "0",
    "WS_MAX_CONNECTIONS_PER_CLIENT": "100000",
    "WS_MAX_CONNECTIONS_PER_ROOM": "100000",
    "LOG_LEVEL": "WARNING",
}


def rss_bytes(pid: int) -> int:
    """Return a process's current resident memory (VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def serve(argv: list[str], cwd: Path, env: Mapping[str, str], port: int) -> Iterator[int]:
    """Run a server until the block ends; yield its pid once GET /health answers."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{argv} did not start") from None
                time.sleep(0.05)
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def build_client(folder: Path) -> Path:
    """Compile the C load client with gcc -O2 into ``folder``."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("the WebSocket benchmark needs gcc (or cc) to build its load client")
    binary = folder / "websockets_load"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(LOAD_SOURCE)], check=True)
    return binary


@contextlib.contextmanager
def load_client(binary: Path, args: list[str], timeout: float) -> Iterator[dict[str, float]]:
    """Run the load client until the block ends; yield its `key value` lines once it is ready.

    Its connections stay open (idle mode) until the block ends and the client
    is told to stop.
    """
    client = subprocess.Popen(
        [str(binary), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdout is not None and client.stdin is not None
    try:
        found: dict[str, float] = {}
        deadline = time.monotonic() + timeout + 60
        for line in client.stdout:
            key, _, value = line.partition(" ")
            found[key] = float(value)
            if key == "ready" or time.monotonic() > deadline:
                break
        yield found
    finally:
        with contextlib.suppress(BrokenPipeError):
            client.stdin.write("done\n")
            client.stdin.close()
        client.wait(timeout=30)
        client.stdout.close()


def run_client(binary: Path, args: list[str], server_pid: int, timeout: float) -> dict[str, float]:
    """Run the load client; return its `key value` lines plus the server's RSS and CPU."""
    before_rss, before_cpu = rss_bytes(server_pid), cpu_seconds(server_pid)
    with load_client(binary, args, timeout) as found:
        found["server_rss_growth"] = rss_bytes(server_pid) - before_rss
        found["server_cpu_seconds"] = cpu_seconds(server_pid) - before_cpu
    return found


def idle_memory(
    binary: Path, args: list[str], server_pid: int, timeout: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Connect two waves of idle clients; return each wave's lines, with the server's RSS growth.

    The first wave is timed as it joins an empty server; the memory figure is
    the second wave's growth. Growth during the first wave depends on how much
    free memory the server's start-up happened to leave in its heap: the same
    app, the same Python allocations (tracemalloc), grew by 30.5 KiB per
    connection in one virtualenv and 39.9 KiB in another. Once the first wave
    has used that up, each further connection grows the process by what it costs.
    """
    with load_client(binary, args, timeout) as first:
        settled = rss_bytes(server_pid)
        with load_client(binary, args, timeout) as second:
            second["server_rss_growth"] = rss_bytes(server_pid) - settled
    return first, second


def contender(
    name: str, quick: bool, binary: Path, uvicorn: tuple[list[str], str, Path]
) -> Callable[[], dict[str, float]]:
    """Return one round of the scenarios against ``name``: `ours`, `raw` or `bare`.

    ``uvicorn`` is the server command without its app, the generated app's
    entry point and the project's folder.
    """
    messages = scaled(2000 if quick else 10000)
    idle = scaled(IDLE_CLIENTS)
    timeout = 30.0 if quick else 120.0
    server, entrypoint, project = uvicorn

    def one_round() -> dict[str, float]:
        results: dict[str, float] = {}
        scenarios = [("fanout", scaled(100)), ("fanout", scaled(500)), ("idle", idle)]
        for mode, clients in scenarios:
            port = free_port()
            if name == "ours":
                argv, cwd = [*server, entrypoint, "--port", str(port)], project
                env = OUR_ENV
            elif name == "bare":
                argv, cwd, env = [*server, BARE_APP, "--port", str(port)], REPO_ROOT, {}
            else:
                argv = [sys.executable, "-m", "benchmarks.peers.websockets_broadcast", str(port)]
                cwd, env = REPO_ROOT, {}
            with serve(argv, cwd, env, port) as pid:
                if mode == "fanout":
                    args = [str(port), "/ws/bench", "fanout", str(clients), str(SENDERS),
                            str(messages), str(SIZE), str(WINDOW), str(timeout)]  # fmt: skip
                    found = run_client(binary, args, pid, timeout)
                    label = f"{clients} clients, {SENDERS} senders"
                    results[f"deliveries/s, {label}"] = found["delivered"] / found["elapsed"]
                    results[f"client CPU / server CPU, {label}"] = found[
                        "client_cpu_seconds"
                    ] / max(found["server_cpu_seconds"], 1e-9)
                else:
                    args = [str(port), "/ws/idle", "idle", str(clients), str(timeout)]
                    first, second = idle_memory(binary, args, pid, timeout)
                    connected = max(second["connected"], 1)
                    results[f"seconds to connect {clients} clients"] = first["connect_seconds"]
                    # The same joins with a full worker: its collector has more to walk.
                    results[f"seconds to connect {clients} more clients"] = second[
                        "connect_seconds"
                    ]
                    results[f"memory per idle connection, {clients} clients after {clients}"] = (
                        second["server_rss_growth"] / connected / 1024
                    )
                    results[f"clients connected of {2 * clients}"] = (
                        first["connected"] + second["connected"]
                    )
        return results

    return one_round


def run(quick: bool, rounds: int = 3) -> list[Figure]:
    """Measure the generated app and the raw peer in interleaved rounds; return the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="ws-load-") as tmp,
        bench_project("websockets") as bench,
    ):
        binary = build_client(Path(tmp))
        server = [bench.python, "-m", "uvicorn", "--host", "127.0.0.1",
                  "--log-level", "warning", "--backlog", "2048"]  # fmt: skip
        uvicorn = (server, bench.entrypoint, bench.root)
        results = interleave(
            rounds,
            {name: contender(name, quick, binary, uvicorn) for name in ("ours", "raw", "bare")},
        )
    figures = []
    for name in results["ours"][0]:
        ours = [r[name] for r in results["ours"]]
        figures.append(_figure(name, ours, [r[name] for r in results["raw"]], RAW))
        # What FastAPI itself needs, next to it (the targets are read against the raw server).
        figures.append(_figure(name, ours, [r[name] for r in results["bare"]], BARE))
    return figures


# The targets, against the raw server: a ratio for deliveries and joins. Memory's
# target is absolute (at most 20 KB per connection, whatever the raw server needs),
# client CPU shares and connection counts are context.
TARGETS = {"deliveries": 0.8, "seconds": 0.5}
UNITS = {"deliveries": "msg/s", "memory": "KiB", "seconds": "s"}
LOWER_IS_BETTER = ("memory", "seconds")


def _figure(name: str, ours: list[float], other: list[float], reference: str) -> Figure:
    """Return the figure ``name`` of ours next to ``reference`` (raw server or bare FastAPI)."""
    kind = next((kind for kind in UNITS if name.startswith(kind)), "")
    return Figure.from_rounds(
        name,
        ours,
        other,
        UNITS.get(kind, ""),
        higher_is_better=kind not in LOWER_IS_BETTER,
        reference_name=reference,
        target=TARGETS.get(kind) if reference == RAW else None,
    )


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="10,000 messages per scenario (default: 2,000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args(argv)
    quick = not args.full
    started = time.perf_counter()
    figures = run(quick=quick, rounds=args.rounds)
    title = "WebSocket rooms" + (" (quick: 2,000 messages)" if quick else "")
    sys.stdout.write(render_table(title, figures))
    sys.stdout.write(f"\n{machine_details(('fastapi', 'starlette', 'uvicorn', 'websockets'))}\n")
    sys.stdout.write(f"Took {time.perf_counter() - started:.0f} s.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
