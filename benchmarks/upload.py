"""File uploads: the generated `upload` pattern against read-everything.

Run: python -m benchmarks.upload [--quick]

A project with the pattern is generated; each app is served by uvicorn (one
worker), afresh for every measurement so that its peak memory (VmHWM) belongs
to that upload alone: the generated one, and the naive reference
(benchmarks/naive_upload_app.py: `await file.read()`, then checks, then a
write). A client streams a valid PDF of 10 MB, 200 MB and 1 GB (not with
--quick) as multipart/form-data with a Content-Length, over loopback, from a
generator; the figures are the throughput from the first byte sent to the
answer, the server's CPU time per MB uploaded (user + system, from
/proc/<pid>/stat, for that upload alone) and its peak resident memory. Both
limits are raised above the largest file. Another run sends 300 MB chunked (no
Content-Length) against the default 5 MiB limit and counts what the client got
to send before the 413. The last one sends a hostile file: a 74 KB PNG whose
text is all '<' (each byte could start a tag), 4 bytes per TCP segment, and
reports the server's CPU time for it.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import select
import socket
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Figure, bench_project, machine_details, render_table, scaled
from tests.services import QUIET, peak_rss_bytes, serve_uvicorn

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1000 * 1000
MiB = 1024 * 1024
CHUNK = 256 * 1024
BOUNDARY = "benchmark-upload-boundary"
NAIVE = "benchmarks.naive_upload_app:app"


@dataclass(frozen=True)
class Run:
    """One upload: its answer, the bytes sent, the time taken, the server's CPU time and peak."""

    status: int
    sent: int
    seconds: float
    cpu_seconds: float
    peak_rss: int


def _cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123 (a /proc file, read once)
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _png_of_angle_brackets(size: int) -> bytes:
    """Return a valid 1x1 PNG whose tEXt chunk holds `size` bytes of '<'."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00" + b"<" * size)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def _upload_in_segments(port: int, content: bytes, segment: int) -> tuple[int, int, float]:
    """Upload `content` as a PNG form, `segment` bytes per TCP segment (a hostile client)."""
    opening = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"lt.png\"\r\nContent-Type: image/png\r\n\r\n"
    ).encode()  # fmt: skip
    body = opening + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = (
        f"POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(head)
        for start in range(0, len(body), segment):
            sock.sendall(body[start : start + segment])
            time.sleep(0.0002)  # one segment at a time reaches the server
        response = http.client.HTTPResponse(sock, method="POST")
        try:
            response.begin()
            response.read()
        finally:
            response.close()
        return response.status, len(body), time.perf_counter() - started


def _pdf(size: int) -> Iterator[bytes]:
    """Yield a valid PDF of exactly `size` bytes, CHUNK bytes at a time."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    yield head
    filler = (b"%" + b"0123456789abcdef" * (CHUNK // 16))[: CHUNK - 1] + b"\n"
    remaining = size - len(head) - len(tail)
    while remaining > 0:
        piece = filler[: min(CHUNK, remaining)]
        remaining -= len(piece)
        yield piece
    yield tail


def _form(size: int) -> tuple[bytes, Iterator[bytes], bytes]:
    opening = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"bench.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    ).encode()  # fmt: skip
    closing = f"\r\n--{BOUNDARY}--\r\n".encode()
    return opening, _pdf(size), closing


def _upload(port: int, size: int, *, chunked: bool) -> tuple[int, int, float]:
    """Upload a `size`-byte PDF; return the status, the body bytes sent and the seconds taken.

    The client stops sending as soon as the server answers, as a real one would.
    """
    opening, file, closing = _form(size)
    parts = itertools.chain([opening], file, [closing])
    if chunked:
        framing = "Transfer-Encoding: chunked"
        frames = itertools.chain((b"%x\r\n" % len(p) + p + b"\r\n" for p in parts), [b"0\r\n\r\n"])
    else:
        framing = f"Content-Length: {len(opening) + size + len(closing)}"
        frames = parts
    head = (
        f"POST /files HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        sent = 0
        for frame in frames:
            if select.select([sock], [], [], 0)[0]:
                break  # answered early
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(frame)
        response = http.client.HTTPResponse(sock, method="POST")
        try:
            response.begin()
            response.read()
        finally:
            response.close()
        return response.status, sent, time.perf_counter() - started


def _measure(
    app: str,
    cwd: Path,
    env: Mapping[str, str],
    size: int,
    *,
    chunked: bool,
    python: str = sys.executable,
    segments: bytes | None = None,
) -> Run:
    """Serve `app` afresh, warm it up with a small upload, upload once, read its CPU and peak.

    With `segments`, the upload is that content, 4 bytes per TCP segment.
    """
    folder = Path(env["UPLOAD_DIR"])
    try:
        with serve_uvicorn(app, cwd, env=env, extra_args=QUIET, python=python) as served:
            port, pid = served.port, served.process.pid
            _upload(port, 64 * 1024, chunked=False)
            cpu_before = _cpu_seconds(pid)
            if segments is not None:
                status, sent, seconds = _upload_in_segments(port, segments, 4)
            else:
                status, sent, seconds = _upload(port, size, chunked=chunked)
            cpu = _cpu_seconds(pid) - cpu_before
            return Run(status, sent, seconds, cpu, peak_rss_bytes(pid))
    finally:
        for stored in folder.glob("*"):
            stored.unlink()


def run(quick: bool) -> list[Figure]:
    """Measure both apps and return the figures (10 MB and 200 MB; 1 GB too unless `quick`)."""
    sizes = [
        scaled(size) for size in ([10 * MB, 200 * MB] if quick else [10 * MB, 200 * MB, 1000 * MB])
    ]
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp,
        bench_project("upload") as bench,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'app.db'}",
            "UPLOAD_DIR": str(Path(tmp) / "uploads"),
            "LOG_LEVEL": "WARNING",
        }
        ours_at = (bench.entrypoint, bench.root)
        limit = str(max(sizes) + MiB)
        raised = {**env, "UPLOAD_MAX_BYTES": limit, "NAIVE_MAX_BYTES": limit}
        for size in sizes:
            ours = _measure(*ours_at, raised, size, chunked=False, python=bench.python)
            naive = _measure(NAIVE, REPO_ROOT, raised, size, chunked=False)
            for name, result in (("generated", ours), ("naive", naive)):
                if result.status != 201:
                    raise RuntimeError(f"the {name} app answered {result.status} to {size} bytes")
            label = f"{size // MB:,} MB upload"
            figures += [
                Figure(
                    f"MB/s, {label}", size / MB / ours.seconds, size / MB / naive.seconds, "MB/s"
                ),
                Figure(
                    f"server CPU per MB, {label}",
                    ours.cpu_seconds / (size / MB) * 1000,
                    naive.cpu_seconds / (size / MB) * 1000,
                    "ms/MB",
                    higher_is_better=False,
                ),
                Figure(
                    f"server peak memory, {label}",
                    ours.peak_rss / MiB,
                    naive.peak_rss / MiB,
                    "MiB",
                    higher_is_better=False,
                ),
            ]
        default = {**env, "NAIVE_MAX_BYTES": str(5 * MiB)}
        ours = _measure(*ours_at, default, 300 * MB, chunked=True, python=bench.python)
        naive = _measure(NAIVE, REPO_ROOT, default, 300 * MB, chunked=True)
        figures.append(
            Figure(
                "MB sent before the 413, 300 MB chunked vs a 5 MiB limit",
                ours.sent / MB,
                naive.sent / MB,
                "MB",
                higher_is_better=False,
            )
        )
        hostile = _png_of_angle_brackets(scaled(74_000))
        ours = _measure(*ours_at, env, 0, chunked=False, python=bench.python, segments=hostile)
        naive = _measure(NAIVE, REPO_ROOT, env, 0, chunked=False, segments=hostile)
        for name, result in (("generated", ours), ("naive", naive)):
            if result.status != 201:
                raise RuntimeError(f"the {name} app answered {result.status} to the '<' PNG")
        figures.append(
            Figure(
                f"server CPU, a {len(hostile) // 1000} KB PNG of '<' in 4-byte segments",
                ours.cpu_seconds,
                naive.cpu_seconds,
                "s",
                higher_is_better=False,
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1 GB upload")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    sys.stdout.write(render_table("File upload (one uvicorn worker, loopback)", figures))
    sys.stdout.write(
        "\n" + machine_details(("fastapi", "starlette", "uvicorn", "python-multipart"))
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
