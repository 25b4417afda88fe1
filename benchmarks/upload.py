"""File uploads: the generated `upload` pattern against a limit reference and read-everything.

Run: python -m benchmarks.upload [--quick]

A project with the pattern is generated; each app is served by uvicorn (one
worker), afresh for every upload so that its peak memory (VmHWM) belongs to
that upload alone, and gets a 64 KiB warm-up upload first. The contenders:

- the generated app, sent the file as a raw `PUT /files/raw/{name}` and as a
  `multipart/form-data` `POST /files` (SHA-256, type sniffing, the
  active-content scan of every byte, limits, pacing, fsync, atomic rename and
  a database row included);
- the limit reference (benchmarks/peers/upload_minimal_put.py: a Starlette PUT
  handler that writes the body to a file as it arrives and fsyncs it, nothing
  else), sent the same file as a raw PUT; both of the generated app's figures
  are compared with it;
- the same handler with a SHA-256 of the bytes (`hashing_app`): what the hash
  alone costs, the ceiling of any upload that reports one;
- the naive reference (benchmarks/naive_upload_app.py: `await file.read()`,
  then checks, then a write), sent the same multipart form.

The client is curl, with the file on disk (`-T` for the PUTs, `-F` for the
forms, no `Expect: 100-continue`): it sends from a file in a few syscalls per
64 KiB, and its own CPU time (from wait4) is reported next to the server's,
to show it is not what limits the figure. Rounds are interleaved
(`harness.interleave`: 5, or 2 with --quick, or --rounds N) and each figure
is the median ratio over them, with its spread; both PUT and form are held
to the 0.7x target against the limit reference. Server CPU is reported in
seconds per GB (user + system, from /proc, warm-up excluded) for every
contender. A valid 200 MB PDF is uploaded, and 1 GB to
the generated and naive apps once (not with --quick) for their peak memory.
Limits are raised above the largest file. Every server runs with the same fixed
glibc allocator thresholds (`ALLOCATOR`, below says why). Another run sends 300 MB chunked (no
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
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
from tests.services import QUIET, peak_rss_bytes, serve_uvicorn

# Programs run besides Python (curl sends the uploads): checked before a run starts.
NEEDS = ("curl",)

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1000 * 1000
MiB = 1024 * 1024
CHUNK = 256 * 1024
BOUNDARY = "benchmark-upload-boundary"
NAIVE = "benchmarks.naive_upload_app:app"
LIMIT = "benchmarks.peers.upload_minimal_put:app"
LIMIT_NAME = "minimal PUT + fsync"
HASHING = "benchmarks.peers.upload_minimal_put:hashing_app"
HASHING_NAME = "minimal PUT + fsync + SHA-256"

# The same glibc allocator settings for every server: without them, whether uvicorn's
# per-receive body buffer (a bytearray grown per piece, then copied) lands in fresh
# pages is a lottery of each process's heap layout. Measured: the minimal PUT took
# 65,000 page faults per 200 MB in some processes and none in others, at 1.55 against
# 0.75 s of CPU per GB. Dynamic thresholds trim and re-grow the top of the heap; fixed
# ones (mmap above 4 MiB, trim above 64 MiB) keep every contender on the fast side.
ALLOCATOR = {
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864"
}


@dataclass(frozen=True)
class Run:
    """One upload: its answer, the bytes sent, the time taken, CPU times, peak and growth.

    `peak_growth` is how much the server's peak resident memory grew during
    the upload (over its peak after the warm-up): what the upload itself held.
    `client_cpu_seconds` is the curl's (0 for the other clients).
    """

    status: int
    sent: int
    seconds: float
    cpu_seconds: float
    peak_rss: int
    peak_growth: int = 0
    client_cpu_seconds: float = 0.0


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
            try:
                sock.sendall(body[start : start + segment])
            except (BrokenPipeError, ConnectionResetError):
                break  # answered early (the answer says why)
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


def _upload(port: int, size: int, *, chunked: bool, raw: bool = False) -> tuple[int, int, float]:
    """Upload a `size`-byte PDF; return the status, the body bytes sent and the seconds taken.

    A multipart form to `POST /files`, or with `raw` the file alone to
    `PUT /files/raw/...`. The client stops sending as soon as the server
    answers, as a real one would.
    """
    opening, file, closing = _form(size)
    parts: Iterator[bytes] = file if raw else itertools.chain([opening], file, [closing])
    if chunked:
        framing = "Transfer-Encoding: chunked"
        frames: Iterator[bytes] = itertools.chain(
            (b"%x\r\n" % len(p) + p + b"\r\n" for p in parts), [b"0\r\n\r\n"]
        )
    else:
        length = size if raw else len(opening) + size + len(closing)
        framing = f"Content-Length: {length}"
        frames = parts
    if raw:
        request = "PUT /files/raw/warm-up.pdf HTTP/1.1\r\nContent-Type: application/pdf"
    else:
        request = f"POST /files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}"
    head = f"{request}\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n".encode()
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


def _write_pdf(path: Path, size: int) -> Path:
    """Write a valid PDF of exactly `size` bytes to `path` (for curl to send)."""
    with path.open("wb") as file:
        for piece in _pdf(size):
            file.write(piece)
    return path


def _curl(port: int, file: Path, *, form: bool) -> tuple[int, float, float]:
    """Upload `file` with curl: a raw PUT, or a multipart form with `form`.

    Returns the status, the seconds from connect to answer (curl's own
    time_total) and curl's CPU time (user + system, from wait4).
    """
    url = f"http://127.0.0.1:{port}"
    if form:
        how = ["-F", f"file=@{file};type=application/pdf", f"{url}/files"]
    else:
        how = ["-T", str(file), "-H", "Content-Type: application/pdf", f"{url}/files/raw/b.pdf"]
    argv = ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code} %{time_total}", "-H", "Expect:"]
    process = subprocess.Popen([*argv, *how], stdout=subprocess.PIPE)
    assert process.stdout is not None
    written = process.stdout.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0  # reaped by wait4 above
    process.stdout.close()
    status, seconds = written.split()
    return int(status), float(seconds), usage.ru_utime + usage.ru_stime


def _measure_curl(
    app: str, cwd: Path, env: Mapping[str, str], file: Path, *, form: bool, python: str
) -> Run:
    """Serve `app` afresh, warm it up, upload `file` with curl; its CPU, peak and growth."""
    folder = Path(env["UPLOAD_DIR"])
    try:
        with serve_uvicorn(app, cwd, env=env, extra_args=QUIET, python=python) as served:
            port, pid = served.port, served.process.pid
            _upload(port, 64 * 1024, chunked=False, raw=not form)
            cpu_before, peak_before = cpu_seconds(pid), peak_rss_bytes(pid)
            status, seconds, client_cpu = _curl(port, file, form=form)
            cpu = cpu_seconds(pid) - cpu_before
            peak = peak_rss_bytes(pid)
            size = file.stat().st_size
            return Run(status, size, seconds, cpu, peak, peak - peak_before, client_cpu)
    finally:
        for stored in folder.glob("*"):
            stored.unlink()


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
            cpu_before = cpu_seconds(pid)
            if segments is not None:
                status, sent, seconds = _upload_in_segments(port, segments, 4)
            else:
                status, sent, seconds = _upload(port, size, chunked=chunked)
            cpu = cpu_seconds(pid) - cpu_before
            return Run(status, sent, seconds, cpu, peak_rss_bytes(pid))
    finally:
        for stored in folder.glob("*"):
            stored.unlink()


def _checked(name: str, measure: Callable[[], Run]) -> Callable[[], Run]:
    def measured() -> Run:
        result = measure()
        if result.status != 201:
            raise RuntimeError(f"{name} answered {result.status} to {result.sent} bytes")
        return result

    return measured


def _round_figures(results: Mapping[str, list[Run]], size: int) -> list[Figure]:
    """The figures of the interleaved rounds: each contender next to its reference."""
    mb = size / MB
    label = f"{size // MB:,} MB"

    def values(name: str, of: Callable[[Run], float]) -> list[float]:
        return [of(result) for result in results[name]]

    def throughput(run: Run) -> float:
        return mb / run.seconds

    def server_cpu(run: Run) -> float:
        return run.cpu_seconds / (mb / 1000)  # seconds per GB

    def client_cpu(run: Run) -> float:
        return run.client_cpu_seconds / (mb / 1000)

    def growth(run: Run) -> float:
        return run.peak_growth / MiB

    figures: list[Figure] = []
    # (ours, theirs, theirs' name, what, target); "hashing PUT" is itself measured
    # against the limit: the cost of the hash alone.
    pairs = (
        ("ours PUT", "limit PUT", LIMIT_NAME, f"raw PUT, {label}", 0.7),
        ("ours form", "limit PUT", LIMIT_NAME, f"multipart POST vs raw PUT, {label}", 0.7),
        ("ours PUT", "hashing PUT", HASHING_NAME, f"raw PUT, {label}", None),
        ("hashing PUT", "limit PUT", LIMIT_NAME, f"{HASHING_NAME} vs without, {label}", None),
        ("ours form", "naive form", "naive UploadFile", f"multipart POST, {label}", None),
    )
    for ours, theirs, reference_name, what, target in pairs:
        for metric, unit, of, higher, with_target in (
            ("MB/s", "MB/s", throughput, True, True),
            ("server CPU per GB", "s/GB", server_cpu, False, False),
            ("server peak memory growth", "MiB", growth, False, False),
            ("curl CPU per GB", "s/GB", client_cpu, False, False),
        ):
            if theirs == "naive form" and metric == "curl CPU per GB":
                continue
            hashing = "hashing PUT" in (ours, theirs)
            if hashing and metric not in ("MB/s", "server CPU per GB"):
                continue  # the hash's cost is in its time and CPU
            figures.append(
                Figure.from_rounds(
                    f"{metric}, {what}",
                    values(ours, of),
                    values(theirs, of),
                    unit,
                    higher_is_better=higher,
                    reference_name=reference_name,
                    target=target if with_target else None,
                )
            )
    return figures


def run(quick: bool, rounds: int | None = None) -> list[Figure]:
    """Measure every app and return the figures (200 MB in rounds; 1 GB too unless `quick`)."""
    size = scaled(200 * MB)
    rounds = rounds or (2 if quick else 5)
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp,
        bench_project("upload") as bench,
    ):
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'app.db'}",
            "UPLOAD_DIR": str(Path(tmp) / "uploads"),
            "LOG_LEVEL": "WARNING",
            **ALLOCATOR,
        }
        ours_at = (bench.entrypoint, bench.root)
        largest = size if quick else max(size, scaled(1000 * MB))
        limit = str(largest + MiB)
        raised = {**env, "UPLOAD_MAX_BYTES": limit, "NAIVE_MAX_BYTES": limit}
        file = _write_pdf(Path(tmp) / "upload.pdf", size)
        python = bench.python
        results = interleave(
            rounds,
            {
                "ours PUT": _checked(
                    "the generated app (PUT)",
                    lambda: _measure_curl(*ours_at, raised, file, form=False, python=python),
                ),
                "ours form": _checked(
                    "the generated app (form)",
                    lambda: _measure_curl(*ours_at, raised, file, form=True, python=python),
                ),
                "limit PUT": _checked(
                    "the minimal PUT",
                    lambda: _measure_curl(
                        LIMIT, REPO_ROOT, raised, file, form=False, python=python
                    ),
                ),
                "hashing PUT": _checked(
                    "the minimal PUT with SHA-256",
                    lambda: _measure_curl(
                        HASHING, REPO_ROOT, raised, file, form=False, python=python
                    ),
                ),
                "naive form": _checked(
                    "the naive app",
                    lambda: _measure_curl(
                        NAIVE, REPO_ROOT, raised, file, form=True, python=sys.executable
                    ),
                ),
            },
        )
        figures += _round_figures(results, size)
        file.unlink()
        if not quick:
            big = _write_pdf(Path(tmp) / "upload.pdf", largest)
            ours = _measure_curl(*ours_at, raised, big, form=True, python=python)
            naive = _measure_curl(NAIVE, REPO_ROOT, raised, big, form=True, python=sys.executable)
            big.unlink()
            for name, result in (("generated", ours), ("naive", naive)):
                if result.status != 201:
                    raise RuntimeError(f"the {name} app answered {result.status} to {largest}")
            figures.append(
                Figure(
                    f"server peak memory, {largest // MB:,} MB multipart POST",
                    ours.peak_rss / MiB,
                    naive.peak_rss / MiB,
                    "MiB",
                    higher_is_better=False,
                    reference_name="naive UploadFile",
                )
            )
        default = {**env, "NAIVE_MAX_BYTES": str(5 * MiB)}
        ours = _measure(*ours_at, default, 300 * MB, chunked=True, python=python)
        naive = _measure(NAIVE, REPO_ROOT, default, 300 * MB, chunked=True)
        figures.append(
            Figure(
                "MB sent before the 413, 300 MB chunked vs a 5 MiB limit",
                ours.sent / MB,
                naive.sent / MB,
                "MB",
                higher_is_better=False,
                reference_name="naive UploadFile",
            )
        )
        hostile = _png_of_angle_brackets(scaled(74_000))
        # The CPU of the inspection is measured, not the pacing: on a busy machine the
        # 18,500 segments can take long enough to fall under the minimum rate (408).
        unpaced = {**env, "UPLOAD_MIN_BYTES_PER_SECOND": "0"}
        ours = _measure(*ours_at, unpaced, 0, chunked=False, python=python, segments=hostile)
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
                reference_name="naive UploadFile",
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table with the machine details."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, no 1 GB upload")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, 2 with --quick)")
    args = parser.parse_args(argv)
    figures = run(args.quick, args.rounds)
    sys.stdout.write(render_table("File upload (one uvicorn worker, loopback)", figures))
    sys.stdout.write(
        "\n" + machine_details(("fastapi", "starlette", "uvicorn", "python-multipart"))
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
