"""Tiny files of each type, made in code, and helpers the upload tests share."""

import struct
import zlib
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data and CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int = 1, height: int = 1, *, text: bytes = b"") -> bytes:
    """Return a valid grey PNG (with an optional tEXt chunk)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    extra = png_chunk(b"tEXt", b"Comment\x00" + text) if text else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def late_text_png(text: bytes, *, padding: int) -> bytes:
    """Return a valid PNG whose tEXt chunk comes after ``padding`` bytes of another chunk."""
    plain = png()
    end = plain.index(b"IEND") - 4
    filler = png_chunk(b"zzPd", bytes(padding))  # a private, ancillary chunk of zeros
    return plain[:end] + filler + png_chunk(b"tEXt", b"Comment\x00" + text) + plain[end:]


def jpeg() -> bytes:
    """Return a minimal JPEG: SOI, a JFIF APP0 segment, a comment and EOI."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    comment = b"fastscaffold test"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xfe"
        + struct.pack(">H", len(comment) + 2)
        + comment
        + b"\xff\xd9"
    )


def pdf(body: bytes = b"") -> bytes:
    """Return a minimal PDF: header, one empty page, trailer and %%EOF."""
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        + body
        + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def gif() -> bytes:
    """Return a 1x1 GIF89a."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


SAMPLES = {
    "image/png": ("pixel.png", png()),
    "image/jpeg": ("photo.jpg", jpeg()),
    "application/pdf": ("report.pdf", pdf()),
}
"""One tiny file of each type allowed by default: media type -> (name, bytes)."""


def use_temporary_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the upload folder at ``tmp_path``; return it (the database is the test's own).

    The limit and the types are the pattern's own defaults, whatever options the
    project chose: the tests are written against those.
    """
    monkeypatch.setenv("UPLOAD_MAX_BYTES", str(5 * 1024 * 1024))
    monkeypatch.setenv("UPLOAD_ALLOWED_TYPES", "image/jpeg,image/png,application/pdf")
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def stored_files(folder: Path) -> list[str]:
    """Return the names in the upload folder, hidden unfinished ones included.

    The folder's own id file (``.storage-id``) is not a stored file.
    """
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != ".storage-id")


def raw_multipart(filename: str, content: bytes, content_type: str = "image/png") -> bytes:
    """Return a multipart body with ``filename`` sent as raw UTF-8, as some clients do.

    (httpx percent-encodes special characters in file names; attackers' clients do not.)
    """
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


BOUNDARY = "fastscaffold-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def post_file(
    client: TestClient, name: str, content: bytes, content_type: str = "application/octet-stream"
) -> httpx2.Response:
    """Upload ``content`` as ``name`` through POST /files."""
    return client.post("/files", files={"file": (name, content, content_type)})
