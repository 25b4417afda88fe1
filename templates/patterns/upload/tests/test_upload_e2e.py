"""The upload pattern under a real uvicorn: flat memory, early 413, slow clients cut off.

Uploads are streamed from generators over raw sockets, so the client side stays
small too, and the server's memory is read from /proc (VmHWM) before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fastscaffold.creation import NewOptions, new_project
from tests.services import ServedApp, serve_app

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
CHUNK = 256 * 1024
BOUNDARY = "e2e-upload-boundary"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("upload-e2e")
    return new_project(
        NewOptions(name="upload-e2e", parent=parent, patterns=("upload",))
    ).destination


def server_env(folder: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'app.db'}",
        "UPLOAD_DIR": str(folder / "uploads"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def stored_files(folder: Path) -> list[Path]:
    """Return what the upload folder holds besides its id file (.storage-id)."""
    return sorted(p for p in folder.iterdir() if p.name != ".storage-id")


def pdf_stream(size: int) -> Iterator[bytes]:
    """Yield a valid PDF of exactly ``size`` bytes, one CHUNK at a time (never all of it)."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    yield head
    filler = b"%" + b"0123456789abcdef" * (CHUNK // 16 - 1) + b"abcdefghijklmn\n"
    remaining = size - len(head) - len(tail)
    while remaining > 0:
        piece = filler[: min(CHUNK, remaining)]
        remaining -= len(piece)
        yield piece
    yield tail


def multipart(parts: Iterator[bytes], filename: str) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    yield from parts
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
    """Frame ``parts`` in HTTP/1.1 chunked transfer encoding (no Content-Length)."""
    for part in parts:
        if part:
            yield b"%x\r\n" % len(part) + part + b"\r\n"
    yield b"0\r\n\r\n"


@dataclass
class Answer:
    """A response to a streamed request, and how much of the request body was sent."""

    status: int
    headers: dict[str, str]
    body: Any
    sent: int


def send_streaming(served: ServedApp, method: str, path: str, body: Iterator[bytes]) -> Answer:
    """Send a chunked request from ``body``, stopping as soon as the server answers."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=60) as sock:
        return _exchange(sock, method, path, body)


def _exchange(sock: socket.socket, method: str, path: str, body: Iterator[bytes]) -> Answer:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    )
    sock.sendall(head.encode())
    sent = 0
    for frame in chunked(body):
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:  # the server answered early: stop sending, as a real client should
            break
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(frame)
    return read_answer(sock, method, sent)


def test_a_200_mb_upload_and_download_keep_memory_flat(project: Path, tmp_path: Path) -> None:
    size = 200 * MiB
    env = server_env(tmp_path, UPLOAD_MAX_BYTES=str(size + MiB))
    with serve_app(project, env=env) as served:
        # Warm up (imports, the database, the first upload) before reading the idle level.
        warm = send_streaming(served, "POST", "/files", multipart(pdf_stream(64 * 1024), "w.pdf"))
        assert warm.status == 201, warm.body
        idle = served.peak_rss_bytes()

        expected = hashlib.sha256()
        for piece in pdf_stream(size):
            expected.update(piece)
        answer = send_streaming(served, "POST", "/files", multipart(pdf_stream(size), "big.pdf"))
        body = answer.body
        assert answer.status == 201, body
        assert answer.sent > size
        assert body["size"] == size and body["sha256"] == expected.hexdigest()
        after_upload = served.peak_rss_bytes()

        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        connection.request("GET", f"/files/{body['id']}")
        download = connection.getresponse()
        assert download.status == 200
        received = hashlib.sha256()
        while piece := download.read(CHUNK):
            received.update(piece)
        download.close()
        connection.close()
        assert received.hexdigest() == expected.hexdigest()
        after_download = served.peak_rss_bytes()

    growth_upload = after_upload - idle
    growth_download = after_download - idle
    print(f"idle {idle / MiB:.0f} MiB; +{growth_upload / MiB:.1f} MiB after the upload, "
          f"+{growth_download / MiB:.1f} MiB after the download")  # fmt: skip
    assert growth_upload < 50 * MiB
    assert growth_download < 50 * MiB
    uploads = tmp_path / "uploads"
    assert sorted(p.suffix for p in stored_files(uploads)) == [".pdf", ".pdf"]  # no .part left
    for stored in stored_files(uploads):
        stored.unlink()


def test_a_300_mb_chunked_upload_is_cut_off_after_a_few_mb(project: Path, tmp_path: Path) -> None:
    size = 300 * MiB
    with serve_app(project, env=server_env(tmp_path)) as served:  # the default limit: 5 MiB
        idle = served.peak_rss_bytes()
        answer = send_streaming(served, "POST", "/files", multipart(pdf_stream(size), "x.pdf"))
        peak = served.peak_rss_bytes()
    sent = answer.sent
    print(f"413 after the client sent {sent / MiB:.1f} MiB of {size / MiB:.0f} MiB; "
          f"memory +{(peak - idle) / MiB:.1f} MiB")  # fmt: skip
    assert answer.status == 413
    assert answer.body["status"] == 413
    assert answer.headers["connection"] == "close"
    # 5 MiB read by the app; the rest of what was sent sat in socket buffers when it answered.
    assert sent < 32 * MiB
    assert peak - idle < 50 * MiB
    assert stored_files(tmp_path / "uploads") == []


def pdf_text_stream(size: int) -> Iterator[bytes]:
    """Yield a valid PDF of ``size`` bytes of dictionaries: every slice needs a full search.

    `<` and `/` are in every line, so the memchr that skips most binary data never
    rules a slice out and the active-content search runs over every byte.
    """
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    line = b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /Border [0 0 0] >>\n"
    filler = line * (CHUNK // len(line) + 1)
    yield head
    remaining = size - len(head) - len(tail)
    while remaining > 0:
        piece = filler[: min(CHUNK, remaining)]
        remaining -= len(piece)
        yield piece
    yield tail


def test_the_event_loop_keeps_answering_during_a_large_upload(
    project: Path, tmp_path: Path
) -> None:
    """While 96 MiB are received, scanned, hashed and written, /health keeps answering.

    The scan runs on the event loop a slice at a time, the hash chunk by chunk and the
    writing in a worker thread; were any of them to hold the loop for the length of a
    batch or of the upload, a /health request sent meanwhile would wait for it. The bound
    (1 s for any one request) is generous: it catches a blocked loop, not a slow machine.
    """
    size = 96 * MiB
    env = server_env(tmp_path, UPLOAD_MAX_BYTES=str(size + MiB))
    with serve_app(project, env=env) as served:
        warm = send_streaming(served, "POST", "/files", multipart(pdf_stream(64 * 1024), "w.pdf"))
        assert warm.status == 201, warm.body
        answers: list[Answer] = []
        upload = threading.Thread(
            target=lambda: answers.append(
                send_streaming(served, "POST", "/files", multipart(pdf_text_stream(size), "t.pdf"))
            )
        )
        waits: list[float] = []
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        upload.start()
        try:
            while upload.is_alive():
                started = time.perf_counter()
                connection.request("GET", "/health")
                response = connection.getresponse()
                response.read()
                waits.append(time.perf_counter() - started)
                assert response.status == 200
                time.sleep(0.02)
        finally:
            upload.join()
            connection.close()
    assert answers and answers[0].status == 201, answers
    assert answers[0].body["size"] == size
    longest = max(waits)
    print(f"{len(waits)} /health requests during the upload; the longest took {longest:.3f} s")
    assert len(waits) >= 5  # they ran while the upload did
    assert longest < 1.0


def tiny_png() -> bytes:
    """Return a valid 1x1 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_servers_sharing_postgres_but_not_the_folder_say_so_instead_of_404(
    project: Path, tmp_path: Path, postgres_url: str
) -> None:
    import httpx2

    png = tiny_png()
    host_a, host_b = tmp_path / "a", tmp_path / "b"
    shared = {"DATABASE_URL": postgres_url}
    with (
        serve_app(project, env={**server_env(host_a), **shared}) as first,
        serve_app(project, env={**server_env(host_b), **shared}) as second,
    ):
        created = httpx2.post(
            f"{first.url}/files", files={"file": ("a.png", png, "image/png")}, timeout=10
        )
        assert created.status_code == 201, created.text
        file_id = created.json()["id"]
        # The second host lists the file (one database) but cannot read its bytes.
        listed = httpx2.get(f"{second.url}/files", timeout=10).json()
        assert [item["id"] for item in listed["items"]] == [file_id]
        download = httpx2.get(f"{second.url}/files/{file_id}", timeout=10)
        assert download.status_code == 503
        assert "same UPLOAD_DIR" in download.json()["detail"]
        assert httpx2.delete(f"{second.url}/files/{file_id}", timeout=10).status_code == 503
        # Nothing was orphaned: the first host still serves the file.
        assert httpx2.get(f"{first.url}/files/{file_id}", timeout=10).content == png
    # With the storage shared (the same folder: the same .storage-id), both serve it.
    with serve_app(project, env={**server_env(host_a), **shared}) as again:
        assert httpx2.get(f"{again.url}/files/{file_id}", timeout=10).status_code == 200


def open_stalled_upload(served: ServedApp, method: str, *, body: bytes) -> socket.socket:
    """Start an upload that announces 4 MiB, send ``body`` of it, and stall (a slow client)."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    path = "/files" if method == "POST" else "/files/raw/stalled.pdf"
    kind = f"multipart/form-data; boundary={BOUNDARY}" if method == "POST" else "application/pdf"
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {4 * MiB}\r\n"
        f"Content-Type: {kind}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def read_answer(sock: socket.socket, method: str, sent: int = 0) -> Answer:
    """Read the server's JSON answer on ``sock`` (then closed); ``sent``: body bytes sent."""
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        content = json.loads(response.read())
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        response.close()
        sock.close()
    return Answer(response.status, headers, content, sent)


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part")) if folder.exists() else []


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_stalled_uploads_time_out_leave_no_part_files_and_are_capped(
    project: Path, tmp_path: Path
) -> None:
    """Slow clients once held the server for as long as they liked, as many as they liked."""
    env = server_env(tmp_path, UPLOAD_IDLE_TIMEOUT_SECONDS="2", UPLOAD_MAX_CONCURRENT="4")
    pdf_head = b"%PDF-1.7\n%" + b"x" * (MiB + 64 * 1024) + b"\n"  # past a batch: a .part exists
    form_head = next(multipart(iter([b""]), "stalled.pdf"))
    uploads = tmp_path / "uploads"
    with serve_app(project, env=env) as served:
        stalled = [
            (method, open_stalled_upload(served, method, body=body))
            for method, body in [
                ("POST", form_head + pdf_head),
                ("POST", form_head + pdf_head),
                ("PUT", pdf_head),
                ("PUT", pdf_head),
            ]
        ]
        assert wait_until(lambda: len(part_files(uploads)) == 4, timeout=20)
        # A fifth upload: refused at once, before any of its body is read.
        extra = open_stalled_upload(served, "PUT", body=b"")
        refused = read_answer(extra, "PUT")
        assert refused.status == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        started = time.monotonic()
        for method, sock in stalled:
            answer = read_answer(sock, method)
            assert answer.status == 408, answer.body
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["connection"] == "close"
        waited = time.monotonic() - started
        assert wait_until(lambda: part_files(uploads) == [], timeout=10)
        # The slots were given back: the next upload is received.
        created = send_streaming(served, "POST", "/files", multipart(pdf_stream(MiB), "ok.pdf"))
        assert created.status == 201, created.body
    print(f"4 stalled uploads answered 408 within {waited:.1f} s of the 503")
    assert waited < 15


def test_a_trickling_upload_is_cut_off_by_the_minimum_rate(project: Path, tmp_path: Path) -> None:
    env = server_env(
        tmp_path,
        UPLOAD_MIN_BYTES_PER_SECOND="20000",
        UPLOAD_MIN_RATE_GRACE_SECONDS="1",
        UPLOAD_IDLE_TIMEOUT_SECONDS="30",
    )
    with serve_app(project, env=env) as served:
        sock = open_stalled_upload(served, "PUT", body=b"%PDF-1.7\n")
        started = time.monotonic()
        sent = 0
        # 200 bytes every 0.1 s: never idle, but a tenth of the minimum rate.
        while time.monotonic() - started < 20 and not select.select([sock], [], [], 0.1)[0]:
            with contextlib.suppress(OSError):
                sock.sendall(b"%" + b"x" * 198 + b"\n")
                sent += 200
        answer = read_answer(sock, "PUT")
        elapsed = time.monotonic() - started
    print(f"408 after {elapsed:.1f} s and {sent} bytes")
    assert answer.status == 408, answer.body
    assert "bytes per second" in answer.body["detail"]
    assert elapsed < 10
    assert stored_files(tmp_path / "uploads") == []
